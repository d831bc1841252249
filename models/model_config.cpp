#include "models/model_config.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"

namespace tailor::models {
namespace {

using nlohmann::json;

// Reads config.json keys with errors that name the file and key.
class Keys {
 public:
  Keys(const json& object, std::string source) : j_(object), source_(std::move(source)) {}

  bool has(const char* key) const { return j_.contains(key) && !j_.at(key).is_null(); }
  const json& raw(const char* key) const { return j_.at(key); }

  int64_t integer(const char* key) const {
    if (!has(key)) fail(key, "missing");
    const json& v = j_.at(key);
    if (!v.is_number_integer()) fail(key, "expected an integer, found " + v.dump());
    return v.get<int64_t>();
  }
  int64_t integer(const char* key, int64_t fallback) const { return has(key) ? integer(key) : fallback; }

  double number(const char* key) const {
    if (!has(key)) fail(key, "missing");
    const json& v = j_.at(key);
    if (!v.is_number()) fail(key, "expected a number, found " + v.dump());
    return v.get<double>();
  }
  double number(const char* key, double fallback) const { return has(key) ? number(key) : fallback; }
  std::optional<double> optional_number(const char* key) const {
    return has(key) ? std::optional<double>(number(key)) : std::nullopt;
  }

  bool boolean(const char* key, bool fallback) const {
    if (!has(key)) return fallback;
    const json& v = j_.at(key);
    if (!v.is_boolean()) fail(key, "expected true or false, found " + v.dump());
    return v.get<bool>();
  }

  std::string string(const char* key, const std::string& fallback) const {
    if (!has(key)) return fallback;
    const json& v = j_.at(key);
    if (!v.is_string()) fail(key, "expected a string, found " + v.dump());
    return v.get<std::string>();
  }

  std::vector<double> numbers(const char* key) const {
    std::vector<double> out;
    if (!has(key)) return out;
    const json& v = j_.at(key);
    if (!v.is_array()) fail(key, "expected a list of numbers");
    for (const auto& x : v) {
      if (!x.is_number()) fail(key, "expected a list of numbers, found " + x.dump());
      out.push_back(x.get<double>());
    }
    return out;
  }

  [[noreturn]] void fail(const std::string& key, const std::string& what) const {
    throw InputError(source_ + ": key '" + key + "': " + what);
  }
  const std::string& source() const { return source_; }

 private:
  const json& j_;
  std::string source_;
};

RopeType parse_rope_type(const std::string& name, const Keys& keys) {
  if (name == "default" || name.empty()) return RopeType::Default;
  if (name == "linear") return RopeType::Linear;
  if (name == "llama3") return RopeType::Llama3;
  if (name == "yarn") return RopeType::Yarn;
  if (name == "longrope" || name == "su") return RopeType::LongRope;
  keys.fail("rope_type", "unsupported rope type '" + name + "' (supported: default, linear, llama3, yarn, longrope)");
}

// One rope dict (legacy rope_scaling or a v5 rope_parameters entry) over defaults.
RopeParams parse_rope_dict(const json& dict, RopeParams rope, const std::string& source, int64_t max_positions,
                           std::optional<int64_t> original_max_override) {
  if (!dict.is_object()) throw InputError(source + ": rope parameters: expected an object, found " + dict.dump());
  Keys k(dict, source + ": rope parameters");
  rope.type = parse_rope_type(k.string("rope_type", k.string("type", "default")), k);
  rope.theta = k.number("rope_theta", rope.theta);
  rope.partial_rotary_factor = k.number("partial_rotary_factor", rope.partial_rotary_factor);
  rope.factor = k.number("factor", rope.factor);
  rope.low_freq_factor = k.number("low_freq_factor", rope.low_freq_factor);
  rope.high_freq_factor = k.number("high_freq_factor", rope.high_freq_factor);
  rope.original_max_position_embeddings = original_max_override.value_or(
      k.integer("original_max_position_embeddings", max_positions));
  rope.attention_factor = k.optional_number("attention_factor");
  rope.beta_fast = k.number("beta_fast", rope.beta_fast);
  rope.beta_slow = k.number("beta_slow", rope.beta_slow);
  rope.mscale = k.optional_number("mscale");
  rope.mscale_all_dim = k.optional_number("mscale_all_dim");
  rope.truncate = k.boolean("truncate", rope.truncate);
  rope.short_factor = k.numbers("short_factor");
  rope.long_factor = k.numbers("long_factor");
  if (rope.type == RopeType::LongRope && (rope.short_factor.empty() || rope.long_factor.empty()))
    k.fail("short_factor", "longrope needs short_factor and long_factor");
  if (rope.type == RopeType::Yarn || rope.type == RopeType::LongRope) {
    // transformers derives a missing factor from the two context lengths.
    if (!dict.contains("factor") || dict.at("factor").is_null())
      rope.factor = double(max_positions) / double(rope.original_max_position_embeddings);
  }
  return rope;
}

bool is_nested_by_layer_type(const json& rope_parameters) {
  return rope_parameters.is_object() &&
         (rope_parameters.contains("full_attention") || rope_parameters.contains("sliding_attention"));
}

void parse_rope(const Keys& k, const json& root, ModelConfig& c) {
  const ArchSpec& arch = *c.arch;
  RopeParams base;
  base.theta = k.number("rope_theta", arch.default_rope_theta);
  base.partial_rotary_factor = k.number("partial_rotary_factor", 1.0);
  std::optional<int64_t> original_max;
  if (k.has("original_max_position_embeddings")) original_max = k.integer("original_max_position_embeddings");
  RopeParams sliding_base = base;
  sliding_base.theta = k.number("rope_local_base_freq", arch.default_sliding_rope_theta);

  const std::string& src = k.source();
  int64_t max_pos = c.max_position_embeddings;
  c.rope = base;
  c.sliding_rope = arch.separate_sliding_rope ? sliding_base : base;
  if (k.has("rope_parameters")) {
    const json& rp = root.at("rope_parameters");
    if (is_nested_by_layer_type(rp)) {
      if (rp.contains("full_attention") && !rp.at("full_attention").is_null())
        c.rope = parse_rope_dict(rp.at("full_attention"), base, src, max_pos, original_max);
      if (rp.contains("sliding_attention") && !rp.at("sliding_attention").is_null())
        c.sliding_rope = parse_rope_dict(rp.at("sliding_attention"), sliding_base, src, max_pos, original_max);
    } else {
      c.rope = parse_rope_dict(rp, base, src, max_pos, original_max);
      if (!arch.separate_sliding_rope) c.sliding_rope = c.rope;
    }
  } else if (k.has("rope_scaling")) {
    c.rope = parse_rope_dict(root.at("rope_scaling"), base, src, max_pos, original_max);
    if (!arch.separate_sliding_rope) c.sliding_rope = c.rope;
  }
}

std::vector<bool> sliding_layers(const Keys& k, const json& root, const ModelConfig& c) {
  // An absurd layer count must reach validate() as an error, not as a huge allocation here.
  std::vector<bool> sliding(size_t(std::clamp<int64_t>(c.num_layers, 0, kMaxLayers)), false);
  if (k.has("layer_types")) {
    const json& types = root.at("layer_types");
    if (!types.is_array() || int64_t(types.size()) != c.num_layers)
      k.fail("layer_types", "expected a list of " + std::to_string(c.num_layers) + " layer types");
    for (size_t i = 0; i < sliding.size(); ++i) {
      if (!types[i].is_string()) k.fail("layer_types", "expected strings, found " + types[i].dump());
      const std::string t = types[i].get<std::string>();
      if (t != "sliding_attention" && t != "full_attention")
        k.fail("layer_types", "unsupported layer type '" + t + "' (supported: full_attention, sliding_attention)");
      sliding[i] = t == "sliding_attention" && c.sliding_window.has_value();
    }
    return sliding;
  }
  if (!c.sliding_window) return sliding;
  const int pattern = int(k.integer("sliding_window_pattern", c.arch->default_sliding_window_pattern));
  const int64_t max_window_layers = k.integer("max_window_layers", 28);
  for (int64_t i = 0; i < int64_t(sliding.size()); ++i) {
    switch (c.arch->sliding_layers) {
      case SlidingLayers::None: sliding[i] = false; break;
      case SlidingLayers::All: sliding[i] = true; break;
      case SlidingLayers::Even: sliding[i] = i % 2 == 0; break;
      case SlidingLayers::AllButEveryNth: sliding[i] = pattern > 0 && (i + 1) % pattern != 0; break;
      case SlidingLayers::FromMaxWindowLayers: sliding[i] = i >= max_window_layers; break;
    }
  }
  return sliding;
}

std::optional<int64_t> parse_sliding_window(const Keys& k, const json& root, const ArchSpec& arch) {
  if (arch.sliding_layers == SlidingLayers::None) return std::nullopt;
  // Qwen2/3 only slide when use_sliding_window says so (their config nulls the window otherwise).
  if (arch.sliding_layers == SlidingLayers::FromMaxWindowLayers && !k.boolean("use_sliding_window", false))
    return std::nullopt;
  if (root.contains("sliding_window")) {
    if (root.at("sliding_window").is_null()) return std::nullopt;
    int64_t w = k.integer("sliding_window");
    if (w <= 0) k.fail("sliding_window", "expected a positive integer");
    return w;
  }
  if (arch.sliding_layers == SlidingLayers::FromMaxWindowLayers) return 4096;
  return arch.default_sliding_window;
}

std::optional<double> softcap(const Keys& k, const json& root, const char* key, std::optional<double> fallback) {
  if (!root.contains(key)) return fallback;
  if (root.at(key).is_null()) return std::nullopt;
  double v = k.number(key);
  if (!(v > 0)) k.fail(key, "expected a positive number");
  return v;
}

}  // namespace

int64_t head_dim_from_hidden(int64_t hidden_size, int64_t num_heads, const std::string& source) {
  if (num_heads <= 0 || hidden_size % num_heads != 0)
    throw InputError(source + ": hidden_size (" + std::to_string(hidden_size) +
                     ") must be a multiple of num_attention_heads (" + std::to_string(num_heads) +
                     ") when head_dim is not given");
  return hidden_size / num_heads;
}

int64_t ModelConfig::rotary_dim() const { return int64_t(double(head_dim) * rope.partial_rotary_factor); }

const RopeParams& ModelConfig::rope_for_layer(int64_t layer) const {
  return arch->separate_sliding_rope && layer_is_sliding.at(size_t(layer)) ? sliding_rope : rope;
}

void ModelConfig::validate(const std::string& source) const {
  auto check = [&](bool ok, const std::string& what) {
    if (!ok) throw InputError(source + ": " + what);
  };
  // Generous caps: bigger than any released model, small enough that a typo cannot allocate terabytes.
  check(vocab_size > 0 && vocab_size <= (int64_t(1) << 22), "vocab_size must be in 1..4194304");
  check(hidden_size > 0 && hidden_size <= 65536, "hidden_size must be in 1..65536");
  check(intermediate_size > 0 && intermediate_size <= 1 << 20, "intermediate_size must be in 1..1048576");
  check(num_layers > 0 && num_layers <= kMaxLayers, "num_hidden_layers must be in 1..1024");
  check(num_heads > 0 && num_heads <= 1024, "num_attention_heads must be in 1..1024");
  check(num_kv_heads > 0 && num_heads % num_kv_heads == 0,
        "num_key_value_heads (" + std::to_string(num_kv_heads) + ") must divide num_attention_heads (" +
            std::to_string(num_heads) + ")");
  check(head_dim > 0 && head_dim <= 4096 && head_dim % 2 == 0, "head_dim must be even and in 2..4096");
  check(rotary_dim() > 0 && rotary_dim() <= head_dim && rotary_dim() % 2 == 0,
        "partial_rotary_factor gives an odd or empty rotary dimension");
  check(max_position_embeddings > 0, "max_position_embeddings must be positive");
  check(rms_norm_eps > 0, "rms_norm_eps must be positive");
  for (const RopeParams* r : {&rope, &sliding_rope}) {
    check(r->theta > 0, "rope_theta must be positive");
    check(r->factor > 0 && std::isfinite(r->factor), "rope factor must be positive");
    if (r->type == RopeType::Llama3 || r->type == RopeType::Yarn || r->type == RopeType::LongRope)
      check(r->original_max_position_embeddings > 0, "rope original_max_position_embeddings must be positive");
    if (r->type == RopeType::LongRope)
      check(int64_t(r->short_factor.size()) == rotary_dim() / 2 && int64_t(r->long_factor.size()) == rotary_dim() / 2,
            "longrope short_factor/long_factor need rotary_dim/2 = " + std::to_string(rotary_dim() / 2) + " entries");
    if (r->type == RopeType::Llama3)
      check(r->high_freq_factor != r->low_freq_factor && r->original_max_position_embeddings > 0,
            "llama3 rope needs high_freq_factor != low_freq_factor and original_max_position_embeddings");
  }
  check(int64_t(layer_is_sliding.size()) == num_layers, "layer types do not cover every layer");
}

ModelConfig parse_hf_config(const std::string& json_text, const std::string& source) {
  json root;
  try {
    root = json::parse(json_text);
  } catch (const json::exception& e) {
    throw InputError(source + ": not valid JSON: " + e.what());
  }
  if (!root.is_object()) throw InputError(source + ": expected a JSON object");
  Keys k(root, source);

  std::string arch_name;
  if (k.has("architectures") && root.at("architectures").is_array() && !root.at("architectures").empty() &&
      root.at("architectures")[0].is_string())
    arch_name = root.at("architectures")[0].get<std::string>();
  else
    arch_name = k.string("model_type", "");
  if (arch_name.empty()) k.fail("architectures", "missing (and no model_type); supported: " + supported_architectures());

  ModelConfig c;
  c.arch = &require_architecture(arch_name, source);
  const ArchSpec& arch = *c.arch;
  if (arch.model_types.front() == "gemma3_text" && k.boolean("use_bidirectional_attention", false))
    k.fail("use_bidirectional_attention", "bidirectional (embedding) Gemma 3 models are not supported");

  c.vocab_size = k.integer("vocab_size");
  c.hidden_size = k.integer("hidden_size");
  c.intermediate_size = k.integer("intermediate_size");
  c.num_layers = k.integer("num_hidden_layers");
  c.num_heads = k.integer("num_attention_heads");
  c.num_kv_heads = k.integer("num_key_value_heads", c.num_heads);
  if (k.has("head_dim"))
    c.head_dim = k.integer("head_dim");
  else if (root.contains("head_dim") || !arch.default_head_dim)
    c.head_dim = head_dim_from_hidden(c.hidden_size, c.num_heads, source);
  else
    c.head_dim = *arch.default_head_dim;
  c.max_position_embeddings = k.integer("max_position_embeddings", 4096);
  c.rms_norm_eps = k.number("rms_norm_eps", arch.default_rms_norm_eps);
  c.tie_word_embeddings = k.boolean("tie_word_embeddings", arch.default_tie_embeddings);
  c.attention_bias = k.boolean("attention_bias", false);
  c.mlp_bias = k.boolean("mlp_bias", false);
  const std::string act = k.string("hidden_activation", k.string("hidden_act", ""));
  const std::string expected_act = arch.activation == Activation::Silu ? "silu" : "gelu_pytorch_tanh";
  if (!act.empty() && act != expected_act && !(arch.activation == Activation::GeluTanh && act == "gelu_tanh"))
    k.fail("hidden_act", "'" + act + "' is not supported for " + arch.name + " (expected " + expected_act + ")");

  parse_rope(k, root, c);
  c.sliding_window = parse_sliding_window(k, root, arch);
  c.layer_is_sliding = sliding_layers(k, root, c);
  if (arch.has_softcapping) {
    c.attn_logit_softcapping = softcap(k, root, "attn_logit_softcapping", arch.default_attn_softcap);
    c.final_logit_softcapping = softcap(k, root, "final_logit_softcapping", arch.default_final_softcap);
  }
  c.attention_scale = arch.attention_scale_from_config
                          ? 1.0 / std::sqrt(k.number("query_pre_attn_scalar", arch.default_query_pre_attn_scalar))
                          : 1.0 / std::sqrt(double(c.head_dim));

  if (k.has("bos_token_id")) c.bos_token_id = k.integer("bos_token_id");
  if (k.has("pad_token_id")) c.pad_token_id = k.integer("pad_token_id");
  if (k.has("eos_token_id")) {
    const json& eos = root.at("eos_token_id");
    if (eos.is_array()) {
      for (const auto& id : eos) {
        if (!id.is_number_integer()) k.fail("eos_token_id", "expected integers, found " + id.dump());
        c.eos_token_ids.push_back(id.get<int64_t>());
      }
    } else {
      c.eos_token_ids.push_back(k.integer("eos_token_id"));
    }
  }
  c.torch_dtype = k.string("dtype", k.string("torch_dtype", ""));
  c.validate(source);
  return c;
}

ModelConfig load_hf_config(const std::filesystem::path& config_json) {
  std::ifstream in(config_json, std::ios::binary);
  if (!in) throw InputError(config_json.string() + ": cannot open");
  std::ostringstream text;
  text << in.rdbuf();
  return parse_hf_config(text.str(), config_json.string());
}

void merge_generation_config(ModelConfig& config, const std::filesystem::path& generation_config_json) {
  std::ifstream in(generation_config_json, std::ios::binary);
  if (!in) return;
  std::ostringstream text;
  text << in.rdbuf();
  json root = json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (!root.is_object() || !root.contains("eos_token_id")) return;
  const json& eos = root.at("eos_token_id");
  std::vector<int64_t> ids;
  if (eos.is_number_integer()) ids.push_back(eos.get<int64_t>());
  if (eos.is_array())
    for (const auto& id : eos)
      if (id.is_number_integer()) ids.push_back(id.get<int64_t>());
  for (int64_t id : ids)
    if (std::find(config.eos_token_ids.begin(), config.eos_token_ids.end(), id) == config.eos_token_ids.end())
      config.eos_token_ids.push_back(id);
}

}  // namespace tailor::models
