// PEFT's LoraConfig as tailor reads and writes it (adapter_config.json, formats.md §3.2), and the rules
// PEFT applies to it: which modules are targeted and each module's rank and alpha.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "lora/lora_options.h"

namespace tailor::lora {

struct AdapterConfig {
  int64_t r = 8;
  double lora_alpha = 8.0;
  double lora_dropout = 0.0;
  bool use_rslora = false;
  bool use_dora = false;
  LoraInit init_lora_weights = LoraInit::kDefault;

  // PEFT's target_modules: a list of names (a module matches its full path or a ".name" suffix), or
  // (when target_regex is not empty) one string: "all-linear" or a regex matching the full module path.
  std::vector<std::string> target_modules;
  std::string target_regex;
  std::vector<std::string> exclude_modules;
  std::vector<std::string> modules_to_save;  // trained fully and saved whole (embed_tokens, lm_head)
  // Module name (e.g. "embed_tokens") → rows trained of its weight; PEFT's trainable_token_indices.
  std::map<std::string, std::vector<int64_t>> trainable_token_indices;
  // A tied model's lm_head uses the trained embed_tokens copy (tailor always ties; PEFT only when set).
  bool ensure_weight_tying = false;
  std::map<std::string, int64_t> rank_pattern;
  std::map<std::string, double> alpha_pattern;

  std::string base_model_name_or_path;
  std::string task_type = "CAUSAL_LM";  // empty: null (a bare PeftModel, not a task model)

  bool all_linear() const { return target_regex == "all-linear"; }

  // The options PEFT gives the module at `module_path` (rank_pattern / alpha_pattern applied).
  LoraOptions options_for(const std::string& module_path) const;

  // Whether PEFT would put LoRA on the linear at `module_path` (exclusions and modules_to_save win).
  // For "all-linear", every linear offered qualifies except the output layer `lm_head`.
  bool targets(const std::string& module_path) const;
};

// PEFT's rule for target_modules lists and modules_to_save: the full path or a ".name" suffix.
bool module_name_matches(const std::string& module_path, const std::string& name);

// The module paths among `linear_paths` that get LoRA; InputError if none does (a typo in the recipe).
std::vector<std::string> select_lora_targets(const AdapterConfig& config, const std::vector<std::string>& linear_paths);

// adapter_config.json as PEFT writes it: every field PEFT 0.21 writes, keys sorted, indent 2.
std::string adapter_config_to_json(const AdapterConfig& config, const std::vector<std::string>& targeted_modules);
// Reads adapter_config.json; unknown keys are ignored (as PEFT does), unsupported values are InputErrors
// naming `source` and the key.
AdapterConfig adapter_config_from_json(const std::string& text, const std::string& source);
AdapterConfig read_adapter_config(const std::filesystem::path& file);

}  // namespace tailor::lora
