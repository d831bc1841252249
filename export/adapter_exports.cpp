#include "export/adapter_exports.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <set>

#include "core/atomic_file.h"
#include "core/error.h"
#include "export/gguf_model.h"
#include "export/merge.h"
#include "formats/gguf_quantize.h"
#include "lora/adapter.h"
#include "models/model_loader.h"
#include "models/tensor_inventory.h"

namespace tailor::exporting {
namespace fs = std::filesystem;

void write_peft_folder(const fs::path& base, const fs::path& adapter, const fs::path& folder) {
  const fs::path source = find_adapter_folder(adapter);
  merge_adapter(base, source);  // refuses an adapter that does not fit the base, naming the mismatch
  fs::create_directories(folder);
  fs::copy_file(source / lora::kAdapterWeightsFile, folder / lora::kAdapterWeightsFile, fs::copy_options::overwrite_existing);
  std::ifstream in(source / lora::kAdapterConfigFile);
  nlohmann::ordered_json config = nlohmann::ordered_json::parse(in);
  config["base_model_name_or_path"] = fs::absolute(base).string();
  write_file_atomic(folder / lora::kAdapterConfigFile, config.dump(2) + "\n");
}

void write_gguf_lora(const fs::path& base, const fs::path& adapter, const fs::path& file) {
  const fs::path source = find_adapter_folder(adapter);
  const lora::AdapterConfig config = lora::read_adapter_config(source / lora::kAdapterConfigFile);
  if (config.use_dora) throw InputError(source.string() + ": DoRA adapters have no GGUF LoRA form (llama.cpp applies plain LoRA); export a merged GGUF instead");
  if (!config.modules_to_save.empty() || !config.trainable_token_indices.empty())
    throw InputError(source.string() + ": modules_to_save / trained token rows have no GGUF LoRA form; export a merged GGUF instead");
  if (!config.alpha_pattern.empty())
    throw InputError(source.string() + ": alpha_pattern cannot be expressed in a GGUF LoRA (one alpha per file)");
  merge_adapter(base, source);  // names, shapes and architecture checked against the base
  const models::ModelConfig model = models::load_model_config(base);
  const auto tensors = lora::read_safetensors_tensors(source / lora::kAdapterWeightsFile);

  // llama.cpp scales by alpha / r with r read from each lora_b; rsLoRA needs alpha·sqrt(r) for one r.
  std::set<int64_t> ranks;
  for (const auto& [name, t] : tensors)
    if (name.ends_with(".lora_A.weight")) ranks.insert(t.size(0));
  double alpha = config.lora_alpha;
  if (config.use_rslora) {
    if (ranks.size() != 1) throw InputError(source.string() + ": rsLoRA with per-module ranks cannot be written as one GGUF alpha");
    alpha = config.lora_alpha * std::sqrt(double(*ranks.begin()));
  }

  formats::GgufWriter w;
  w.set_string("general.architecture", gguf_architecture(model));
  w.set_string("general.type", "adapter");
  w.set_string("adapter.type", "lora");
  w.set_f32("adapter.lora.alpha", float(alpha));
  for (const auto& layer : models::linear_layers(model)) {
    const std::string prefix = std::string(lora::kPeftPrefix) + layer.module;
    auto a = tensors.find(prefix + ".lora_A.weight");
    auto b = tensors.find(prefix + ".lora_B.weight");
    if (a == tensors.end() || b == tensors.end()) continue;
    at::Tensor A = a->second.to(at::kFloat).contiguous();  // [r, in] == ggml ne [in, r]
    at::Tensor B = to_gguf_layout(model, layer.module + ".weight", b->second.to(at::kFloat));  // [out, r]: rows permuted like the base
    auto add = [&](const std::string& name, const at::Tensor& t) {
      std::span<const float> values(t.data_ptr<float>(), size_t(t.numel()));
      w.add_tensor(name, formats::GgufType::F32, {t.size(1), t.size(0)}, formats::quantize(formats::GgufType::F32, values, t.size(1)));
    };
    add(layer.gguf_weight + ".lora_a", A);
    add(layer.gguf_weight + ".lora_b", B.contiguous());
  }
  if (w.tensor_count() == 0) throw InputError(source.string() + ": no LoRA layers on linear projections to export");
  w.write(file);
}

}  // namespace tailor::exporting
