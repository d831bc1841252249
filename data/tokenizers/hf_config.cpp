#include "data/tokenizers/hf_config.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace tailor::data {
namespace fs = std::filesystem;
using json = nlohmann::json;

json read_json_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path.string() + ": cannot open");
  try {
    return json::parse(in);
  } catch (const json::parse_error& e) {
    throw InputError(path.string() + ": invalid JSON: " + e.what());
  }
}

namespace {

// "bos_token": "<s>" or {"content": "<s>", ...} or null.
std::optional<std::string> token_text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
  return std::nullopt;
}

void push_unique(std::vector<TokenId>& ids, TokenId id) {
  if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
}

// eos_token_id as an int or a list of ints.
void add_eos_ids(const json& v, SpecialTokens& specials) {
  if (v.is_number_integer()) push_unique(specials.eos_ids, v.get<TokenId>());
  if (v.is_array())
    for (const json& e : v)
      if (e.is_number_integer()) push_unique(specials.eos_ids, e.get<TokenId>());
}

}  // namespace

void read_hf_special_tokens(const fs::path& dir, const TokenLookup& lookup, SpecialTokens& specials) {
  fs::path config_path = dir / "tokenizer_config.json";
  if (fs::exists(config_path)) {
    json config = read_json_file(config_path);
    auto resolve = [&](const char* key, std::optional<TokenId>& slot) {
      if (!config.contains(key)) return;
      if (auto text = token_text(config[key])) {
        auto id = lookup(*text);
        if (!id) throw InputError(config_path.string() + ": " + key + " '" + *text + "' is not in the vocabulary");
        slot = id;
      }
    };
    resolve("bos_token", specials.bos);
    resolve("eos_token", specials.eos);
    resolve("pad_token", specials.pad);
    resolve("unk_token", specials.unk);
    if (config.contains("add_bos_token") && config["add_bos_token"].is_boolean() && !specials.add_bos)
      specials.add_bos = config["add_bos_token"].get<bool>();
    if (config.contains("add_eos_token") && config["add_eos_token"].is_boolean() && !specials.add_eos)
      specials.add_eos = config["add_eos_token"].get<bool>();
  }
  if (specials.eos) push_unique(specials.eos_ids, *specials.eos);
  for (const char* name : {"generation_config.json", "config.json"}) {
    fs::path p = dir / name;
    if (!fs::exists(p)) continue;
    json j = read_json_file(p);
    if (j.contains("eos_token_id")) add_eos_ids(j["eos_token_id"], specials);
  }
}

void add_end_of_turn_tokens(const TokenLookup& lookup, SpecialTokens& specials) {
  for (const char* name : {"<|im_end|>", "<|eot_id|>", "<|eom_id|>", "<|endoftext|>", "<end_of_turn>", "<|end|>",
                           "<|return|>", "<｜end▁of▁sentence｜>"})
    if (auto id = lookup(name)) push_unique(specials.eos_ids, *id);
}

std::string read_hf_chat_template(const fs::path& dir) {
  fs::path sidecar = dir / "chat_template.jinja";
  if (fs::exists(sidecar)) {
    std::ifstream in(sidecar, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  fs::path config_path = dir / "tokenizer_config.json";
  if (!fs::exists(config_path)) return {};
  json config = read_json_file(config_path);
  if (!config.contains("chat_template")) return {};
  const json& t = config["chat_template"];
  if (t.is_string()) return t.get<std::string>();
  if (t.is_array()) {
    for (const json& named : t)
      if (named.value("name", "") == "default" && named.contains("template")) return named["template"].get<std::string>();
    if (!t.empty() && t[0].contains("template")) return t[0]["template"].get<std::string>();
  }
  return {};
}

}  // namespace tailor::data
