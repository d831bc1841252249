// Everything one adapter trains, by module path: LoRA layers, trainable token rows and full module copies;
// the order the optimizer sees them in; and the adapter folder in PEFT's layout (adapter_config.json +
// adapter_model.safetensors with "base_model.model.<module path>.<suffix>" names), written atomically.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "lora/adapter_config.h"
#include "lora/lora_linear.h"
#include "lora/trainable_tokens.h"

namespace tailor::lora {

inline constexpr const char* kAdapterConfigFile = "adapter_config.json";
inline constexpr const char* kAdapterWeightsFile = "adapter_model.safetensors";
inline constexpr const char* kPeftPrefix = "base_model.model.";

class Adapter {
 public:
  explicit Adapter(AdapterConfig config) : config_(std::move(config)) {}

  // `path` is the transformers module path: "model.layers.0.self_attn.q_proj", "lm_head".
  void add_lora(const std::string& path, LoraLinear layer);
  void add_trainable_tokens(const std::string& path, TrainableTokens tokens);
  void add_module_copy(const std::string& path, ModuleCopy copy);
  // PEFT's ensure_weight_tying: module `alias` (a tied model's lm_head) is the module copy at `path`
  // (embed_tokens). One parameter for the optimizer, saved under both names as PEFT saves it (PEFT cannot
  // load the file otherwise), accepted under both on load (they must be equal). Sets ensure_weight_tying.
  void tie_module_copy(const std::string& alias, const std::string& path);

  // (file name, tensor) for every trainable tensor, sorted by name: the optimizer's parameter order and
  // exactly the tensors adapter_model.safetensors holds.
  std::vector<std::pair<std::string, at::Tensor>> named_parameters() const;
  std::vector<at::Tensor> parameters() const;
  int64_t parameter_count() const;

  // Writes `folder`/adapter_config.json and adapter_model.safetensors (float tensors in their own dtype),
  // each atomically; creates the folder.
  void save(const std::filesystem::path& folder) const;
  // Fills every trainable tensor from `folder`/adapter_model.safetensors. All-or-nothing: a missing or
  // extra tensor or a shape mismatch throws InputError naming the file and tensor before anything changes.
  void load_weights(const std::filesystem::path& folder);

  const AdapterConfig& config() const { return config_; }
  const std::map<std::string, LoraLinear>& lora_layers() const { return lora_; }
  const std::map<std::string, TrainableTokens>& trainable_tokens() const { return tokens_; }
  const std::map<std::string, ModuleCopy>& module_copies() const { return copies_; }

 private:
  AdapterConfig config_;
  std::map<std::string, LoraLinear> lora_;
  std::map<std::string, TrainableTokens> tokens_;
  std::map<std::string, ModuleCopy> copies_;
  std::map<std::string, std::string> tied_copies_;  // alias → path of the copy it shares
};

// The tensors of an adapter_model.safetensors (or any safetensors file), copied into CPU tensors.
std::map<std::string, at::Tensor> read_safetensors_tensors(const std::filesystem::path& file);
// Writes CPU copies of `tensors` atomically with {"format": "pt"} metadata, like safetensors.torch.save_file.
void write_safetensors_tensors(const std::filesystem::path& file, const std::vector<std::pair<std::string, at::Tensor>>& tensors);

}  // namespace tailor::lora
