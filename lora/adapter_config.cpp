#include "lora/adapter_config.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "core/error.h"

namespace tailor::lora {
namespace {

using nlohmann::json;

// PEFT's get_pattern_key: a pattern applies when it matches the path's tail after a dot.
bool pattern_matches(const std::string& pattern, const std::string& module_path) {
  try {
    return std::regex_match(module_path, std::regex("(.*\\.)?(" + pattern + ")"));
  } catch (const std::regex_error&) {
    throw InputError("rank_pattern/alpha_pattern: '" + pattern + "' is not a valid regular expression");
  }
}

std::vector<std::string> string_list(const json& value, const std::string& source, const char* key) {
  std::vector<std::string> out;
  if (value.is_null()) return out;
  if (!value.is_array()) throw InputError(source + ": '" + key + "' must be a list of module names");
  for (const auto& item : value) {
    if (!item.is_string()) throw InputError(source + ": '" + key + "' must hold strings");
    out.push_back(item.get<std::string>());
  }
  return out;
}

}  // namespace

bool module_name_matches(const std::string& module_path, const std::string& name) {
  if (module_path == name) return true;
  return module_path.size() > name.size() && module_path.ends_with(name) &&
         module_path[module_path.size() - name.size() - 1] == '.';
}

LoraOptions AdapterConfig::options_for(const std::string& module_path) const {
  LoraOptions options;
  options.r = r;
  options.alpha = lora_alpha;
  options.dropout = lora_dropout;
  options.use_rslora = use_rslora;
  options.use_dora = use_dora;
  options.init = init_lora_weights;
  for (const auto& [pattern, rank] : rank_pattern)
    if (pattern_matches(pattern, module_path)) {
      options.r = rank;
      break;
    }
  for (const auto& [pattern, alpha] : alpha_pattern)
    if (pattern_matches(pattern, module_path)) {
      options.alpha = alpha;
      break;
    }
  return options;
}

bool AdapterConfig::targets(const std::string& module_path) const {
  for (const auto& name : exclude_modules)
    if (module_name_matches(module_path, name)) return false;
  for (const auto& name : modules_to_save)
    if (module_path == name || module_name_matches(module_path, name) ||
        module_path.find("." + name + ".") != std::string::npos || module_path.starts_with(name + "."))
      return false;
  if (all_linear()) return module_path != "lm_head" && !module_path.ends_with(".lm_head");
  if (!target_regex.empty()) {
    try {
      return std::regex_match(module_path, std::regex(target_regex));
    } catch (const std::regex_error&) {
      throw InputError("target_modules: '" + target_regex + "' is not a valid regular expression");
    }
  }
  return std::any_of(target_modules.begin(), target_modules.end(),
                     [&](const std::string& name) { return module_name_matches(module_path, name); });
}

std::vector<std::string> select_lora_targets(const AdapterConfig& config, const std::vector<std::string>& linear_paths) {
  std::vector<std::string> out;
  for (const auto& path : linear_paths)
    if (config.targets(path)) out.push_back(path);
  if (out.empty()) {
    std::string wanted = config.target_regex;
    for (const auto& name : config.target_modules) wanted += (wanted.empty() ? "" : ", ") + name;
    std::string offered;
    for (size_t i = 0; i < linear_paths.size() && i < 8; ++i) offered += (i ? ", " : "") + linear_paths[i];
    throw InputError("target_modules [" + wanted + "] matches none of the model's linear layers (" + offered +
                     (linear_paths.size() > 8 ? ", ..." : "") + ")");
  }
  return out;
}

std::string adapter_config_to_json(const AdapterConfig& config, const std::vector<std::string>& targeted_modules) {
  json j;
  j["alora_invocation_tokens"] = nullptr;
  j["alpha_pattern"] = json::object();
  for (const auto& [k, v] : config.alpha_pattern) j["alpha_pattern"][k] = v;
  j["arrow_config"] = nullptr;
  j["auto_mapping"] = nullptr;
  j["base_model_name_or_path"] = config.base_model_name_or_path.empty() ? json(nullptr) : json(config.base_model_name_or_path);
  j["bias"] = "none";
  j["corda_config"] = nullptr;
  j["ensure_weight_tying"] = config.ensure_weight_tying;
  j["eva_config"] = nullptr;
  j["exclude_modules"] = config.exclude_modules.empty() ? json(nullptr) : json(config.exclude_modules);
  j["fan_in_fan_out"] = false;
  j["inference_mode"] = true;
  switch (config.init_lora_weights) {
    case LoraInit::kDefault: j["init_lora_weights"] = true; break;
    case LoraInit::kNone: j["init_lora_weights"] = false; break;
    default: j["init_lora_weights"] = lora_init_name(config.init_lora_weights);
  }
  j["kasa_config"] = nullptr;
  j["layer_replication"] = nullptr;
  j["layers_pattern"] = nullptr;
  j["layers_to_transform"] = nullptr;
  j["loftq_config"] = json::object();
  if (config.lora_alpha == static_cast<double>(static_cast<int64_t>(config.lora_alpha)))
    j["lora_alpha"] = static_cast<int64_t>(config.lora_alpha);
  else
    j["lora_alpha"] = config.lora_alpha;
  j["lora_bias"] = false;
  j["lora_dropout"] = config.lora_dropout;
  j["lora_ga_config"] = nullptr;
  j["megatron_config"] = nullptr;
  j["megatron_core"] = "megatron.core";
  j["modules_to_save"] = config.modules_to_save.empty() ? json(nullptr) : json(config.modules_to_save);
  j["monteclora_config"] = nullptr;
  j["peft_type"] = "LORA";
  j["peft_version"] = "0.21.2";
  j["qalora_group_size"] = 16;
  j["r"] = config.r;
  j["rank_pattern"] = json::object();
  for (const auto& [k, v] : config.rank_pattern) j["rank_pattern"][k] = v;
  j["revision"] = nullptr;
  if (!config.target_regex.empty() && !config.all_linear()) {
    j["target_modules"] = config.target_regex;
  } else {
    std::set<std::string> names(targeted_modules.begin(), targeted_modules.end());
    if (names.empty()) names.insert(config.target_modules.begin(), config.target_modules.end());
    j["target_modules"] = std::vector<std::string>(names.begin(), names.end());
  }
  j["target_parameters"] = nullptr;
  j["task_type"] = config.task_type.empty() ? json(nullptr) : json(config.task_type);
  if (config.trainable_token_indices.empty()) {
    j["trainable_token_indices"] = nullptr;
  } else {
    j["trainable_token_indices"] = json::object();
    for (const auto& [k, v] : config.trainable_token_indices) j["trainable_token_indices"][k] = v;
  }
  j["use_bdlora"] = nullptr;
  j["use_dora"] = config.use_dora;
  j["use_qalora"] = false;
  j["use_rslora"] = config.use_rslora;
  j["velora_config"] = nullptr;
  return j.dump(2) + "\n";
}

AdapterConfig adapter_config_from_json(const std::string& text, const std::string& source) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    throw InputError(source + ": not valid JSON: " + e.what());
  }
  if (!j.is_object()) throw InputError(source + ": expected a JSON object");
  auto fail = [&](const std::string& key, const std::string& what) -> InputError {
    return InputError(source + ": '" + key + "' " + what);
  };
  AdapterConfig c;
  try {
    if (j.contains("peft_type") && j["peft_type"] != "LORA")
      throw fail("peft_type", "is " + j["peft_type"].dump() + ", tailor reads LORA adapters only");
    if (j.contains("r")) c.r = j["r"].get<int64_t>();
    if (j.contains("lora_alpha")) c.lora_alpha = j["lora_alpha"].get<double>();
    if (j.contains("lora_dropout")) c.lora_dropout = j["lora_dropout"].get<double>();
    if (j.contains("use_rslora")) c.use_rslora = j["use_rslora"].get<bool>();
    if (j.contains("use_dora")) c.use_dora = j["use_dora"].get<bool>();
    if (j.contains("ensure_weight_tying")) c.ensure_weight_tying = j["ensure_weight_tying"].get<bool>();
    if (j.contains("init_lora_weights")) {
      const json& init = j["init_lora_weights"];
      c.init_lora_weights = init.is_boolean() ? (init.get<bool>() ? LoraInit::kDefault : LoraInit::kNone)
                                              : parse_lora_init(init.get<std::string>());
    }
    if (j.contains("target_modules")) {
      const json& t = j["target_modules"];
      if (t.is_string()) c.target_regex = t.get<std::string>();
      else c.target_modules = string_list(t, source, "target_modules");
    }
    if (j.contains("exclude_modules")) {
      if (j["exclude_modules"].is_string()) throw fail("exclude_modules", "as a regex is not supported; give a list");
      c.exclude_modules = string_list(j["exclude_modules"], source, "exclude_modules");
    }
    if (j.contains("modules_to_save")) c.modules_to_save = string_list(j["modules_to_save"], source, "modules_to_save");
    if (j.contains("trainable_token_indices") && !j["trainable_token_indices"].is_null()) {
      const json& t = j["trainable_token_indices"];
      if (t.is_array()) c.trainable_token_indices["embed_tokens"] = t.get<std::vector<int64_t>>();
      else
        for (const auto& [k, v] : t.items()) c.trainable_token_indices[k] = v.get<std::vector<int64_t>>();
    }
    if (j.contains("rank_pattern") && j["rank_pattern"].is_object())
      for (const auto& [k, v] : j["rank_pattern"].items()) c.rank_pattern[k] = v.get<int64_t>();
    if (j.contains("alpha_pattern") && j["alpha_pattern"].is_object())
      for (const auto& [k, v] : j["alpha_pattern"].items()) c.alpha_pattern[k] = v.get<double>();
    if (j.contains("base_model_name_or_path") && j["base_model_name_or_path"].is_string())
      c.base_model_name_or_path = j["base_model_name_or_path"].get<std::string>();
    if (j.contains("task_type")) c.task_type = j["task_type"].is_string() ? j["task_type"].get<std::string>() : "";
    for (const char* key : {"fan_in_fan_out", "lora_bias"})
      if (j.contains(key) && j[key].is_boolean() && j[key].get<bool>()) throw fail(key, "= true is not supported");
    if (j.contains("bias") && j["bias"].is_string() && j["bias"] != "none")
      throw fail("bias", "is " + j["bias"].dump() + "; only \"none\" is supported");
    if (j.contains("layers_to_transform") && !j["layers_to_transform"].is_null())
      throw fail("layers_to_transform", "is not supported");
  } catch (const json::exception& e) {
    throw InputError(source + ": a field has the wrong type: " + e.what());
  }
  if (c.r <= 0) throw fail("r", "must be a positive integer");
  if (c.lora_dropout < 0 || c.lora_dropout >= 1) throw fail("lora_dropout", "must be in [0, 1)");
  return c;
}

AdapterConfig read_adapter_config(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw InputError(file.string() + ": cannot open");
  std::stringstream text;
  text << in.rdbuf();
  return adapter_config_from_json(text.str(), file.string());
}

}  // namespace tailor::lora
