// GGUF as a model source: metadata -> ModelConfig (formats.md §4.5) and tensors under HF names,
// dequantized to float32, with llama's Q/K row permutation undone (§4.9) and Gemma's "1 + w" norm
// storage turned back into w.
#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "core/error.h"
#include "formats/gguf.h"
#include "models/gguf_linear.h"
#include "models/tensor_inventory.h"
#include "models/tensor_source.h"

namespace tailor::models {
namespace {

// A metadata value that may be a scalar or a per-layer array (llama.cpp accepts both); the first
// layer's value stands for all, and differing layers are refused.
int64_t uniform_int(const formats::GgufFile& f, const std::string& key) {
  const formats::GgufValue& v = f.at(key);
  if (v.type() != formats::GgufValueType::ARRAY) return v.as_int();
  std::vector<int64_t> values = v.as_ints();
  if (values.empty()) throw InputError(f.path().string() + ": key '" + key + "': empty array");
  for (int64_t x : values)
    if (x != values.front())
      throw InputError(f.path().string() + ": key '" + key + "': per-layer values differ (not supported)");
  return values.front();
}

// HF rows from GGUF llama rows: [n_head, hd/2, 2] -> [n_head, 2, hd/2] (inverse of the converter's permute).
at::Tensor unpermute_rows(const at::Tensor& t, int64_t n_head) {
  std::vector<int64_t> shape = t.sizes().vec();
  const int64_t rows = shape[0];
  std::vector<int64_t> view = {n_head, rows / n_head / 2, 2};
  for (size_t i = 1; i < shape.size(); ++i) view.push_back(shape[i]);
  return t.reshape(view).transpose(1, 2).reshape(shape).contiguous();
}

// The heads whose rows llama's converter permuted in this layer's GGUF weight; 0 when stored in HF order.
int64_t permuted_heads(const ModelConfig& config, const LinearLayerInfo& layer) {
  if (config.arch->gguf_rope != GgufRope::LlamaPermuted) return 0;
  if (layer.spec->role == LinearRole::Query) return config.num_heads;
  if (layer.spec->role == LinearRole::Key) return config.num_kv_heads;
  return 0;
}

class GgufSource : public TensorSource {
 public:
  GgufSource(std::shared_ptr<const formats::GgufFile> file, const ModelConfig& config)
      : file_(std::move(file)), config_(config) {
    for (const TensorInfo& t : model_tensors(config)) gguf_name_[t.hf_name] = t.gguf_name;
    const ArchSpec& arch = *config.arch;
    for (const LinearLayerInfo& l : linear_layers(config))
      if (int64_t heads = permuted_heads(config, l)) permuted_heads_[l.module] = heads;
    if (arch.gguf_norms_store_one_plus && arch.norm_kind == NormKind::OnePlusWeight) {
      for (const TensorInfo& t : model_tensors(config))
        if (t.hf_name.find("norm.weight") != std::string::npos) one_plus_.insert(t.hf_name);
    }
  }

  std::string describe() const override { return file_->path().string(); }

  bool contains(const std::string& hf_name) const override {
    auto it = gguf_name_.find(hf_name);
    return it != gguf_name_.end() && file_->find_tensor(it->second) != nullptr;
  }

  std::vector<int64_t> shape(const std::string& hf_name) const override { return info(hf_name).shape(); }

  at::Tensor load(const std::string& hf_name) const override {
    const formats::GgufTensorInfo& t = info(hf_name);
    at::Tensor out = at::empty(t.shape(), at::kFloat);
    if (t.numel() > 0) formats::dequantize_rows(t, 0, t.rows(), out.data_ptr<float>());
    const std::string module = hf_name.substr(0, hf_name.rfind('.'));
    if (auto it = permuted_heads_.find(module); it != permuted_heads_.end()) out = unpermute_rows(out, it->second);
    if (one_plus_.count(hf_name)) out = out - 1.0f;
    return out;
  }

 private:
  const formats::GgufTensorInfo& info(const std::string& hf_name) const {
    auto it = gguf_name_.find(hf_name);
    if (it == gguf_name_.end()) throw InputError(describe() + ": no GGUF name for tensor '" + hf_name + "'");
    return file_->tensor(it->second);
  }

  std::shared_ptr<const formats::GgufFile> file_;
  ModelConfig config_;
  std::map<std::string, std::string> gguf_name_;
  std::map<std::string, int64_t> permuted_heads_;  // HF module -> heads whose rows were permuted
  std::set<std::string> one_plus_;
};

std::vector<double> float_tensor(const formats::GgufFile& f, const std::string& name) {
  std::vector<float> values = formats::dequantize(f.tensor(name));
  return {values.begin(), values.end()};
}

// Phi-3's longrope: llama.cpp's converter writes no rope type, only the two factor tensors, the
// original context and the attention factor it computed (convert_hf_to_gguf.py Phi3MiniModel).
void read_longrope(const formats::GgufFile& f, const std::string& p, int64_t context_length, RopeParams& rope) {
  rope.type = RopeType::LongRope;
  rope.long_factor = float_tensor(f, "rope_factors_long.weight");
  rope.short_factor = float_tensor(f, "rope_factors_short.weight");
  rope.original_max_position_embeddings = f.get_int(p + "rope.scaling.original_context_length");
  if (rope.original_max_position_embeddings > 0)
    rope.factor = double(context_length) / double(rope.original_max_position_embeddings);
  if (f.find(p + "rope.scaling.attn_factor")) rope.attention_factor = f.get_float(p + "rope.scaling.attn_factor");
}

// Gemma's query_pre_attn_scalar is not in GGUF; llama.cpp derives it as head_dim, except for the one
// model size (by layer count) trained with hidden_size / heads (llama-model.cpp, the 27B).
double gguf_query_pre_attn_scalar(const ArchSpec& arch, const ModelConfig& c) {
  if (arch.gguf_scalar_from_hidden_layers && c.num_layers == *arch.gguf_scalar_from_hidden_layers && c.num_heads > 0)
    return double(c.hidden_size / c.num_heads);
  return double(c.head_dim);
}

RopeType gguf_rope_type(const std::string& name, const std::string& where) {
  if (name == "none" || name.empty()) return RopeType::Default;
  if (name == "linear") return RopeType::Linear;
  if (name == "yarn") return RopeType::Yarn;
  throw InputError(where + ": rope.scaling.type '" + name + "' is not supported (none, linear, yarn)");
}

}  // namespace

std::unique_ptr<TensorSource> open_gguf_source(std::shared_ptr<const formats::GgufFile> file, const ModelConfig& config) {
  return std::make_unique<GgufSource>(std::move(file), config);
}

GgufLinearWeight gguf_linear_weight(const ModelConfig& config, const formats::GgufFile& file, const std::string& module) {
  const std::string src = file.path().string();
  for (const LinearLayerInfo& l : linear_layers(config)) {
    if (l.module != module) continue;
    const formats::GgufTensorInfo* t = file.find_tensor(l.gguf_weight);
    if (!t) throw InputError(src + ": no tensor '" + l.gguf_weight + "' for " + module);
    if (t->shape() != std::vector<int64_t>{l.out_features, l.in_features})
      throw InputError(src + ": tensor '" + l.gguf_weight + "' is not the [" + std::to_string(l.out_features) + ", " +
                       std::to_string(l.in_features) + "] weight of " + module);
    GgufLinearWeight out{t, {}};
    if (int64_t heads = permuted_heads(config, l))  // the loader's un-permutation, applied to row numbers
      out.row_order = unpermute_rows(at::arange(l.out_features, at::kLong).unsqueeze(1), heads).squeeze(1);
    return out;
  }
  throw InputError(src + ": '" + module + "' is not a linear layer of this " + config.arch->name + " model");
}

ModelConfig config_from_gguf(const formats::GgufFile& f) {
  const std::string src = f.path().string();
  const std::string arch_name = f.get_string("general.architecture");
  ModelConfig c;
  c.arch = &require_architecture(arch_name, src + ": general.architecture");
  const std::string p = arch_name + ".";
  auto has = [&](const std::string& key) { return f.find(key) != nullptr; };
  // A window of 0 means none (the phi3 converter writes 0 for Phi-4). An architecture without
  // sliding layers that carries one is its sliding sibling: `llama` with a window is Mistral.
  std::optional<int64_t> window;
  if (has(p + "attention.sliding_window") && f.get_int(p + "attention.sliding_window") > 0)
    window = f.get_int(p + "attention.sliding_window");
  if (window && c.arch->sliding_layers == SlidingLayers::None && !c.arch->gguf_sliding_variant.empty())
    c.arch = &require_architecture(c.arch->gguf_sliding_variant, src);
  const ArchSpec& arch = *c.arch;

  c.hidden_size = f.get_int(p + "embedding_length");
  c.num_layers = f.get_int(p + "block_count");
  c.intermediate_size = uniform_int(f, p + "feed_forward_length");
  c.num_heads = uniform_int(f, p + "attention.head_count");
  c.num_kv_heads = has(p + "attention.head_count_kv") ? uniform_int(f, p + "attention.head_count_kv") : c.num_heads;
  c.head_dim = has(p + "attention.key_length") ? f.get_int(p + "attention.key_length")
                                                : head_dim_from_hidden(c.hidden_size, c.num_heads, src);
  c.max_position_embeddings = has(p + "context_length") ? f.get_int(p + "context_length") : 4096;
  c.rms_norm_eps = f.get_float(p + "attention.layer_norm_rms_epsilon");
  const formats::GgufTensorInfo& embed = f.tensor(arch.gguf_embed_tokens);
  c.vocab_size = embed.shape().at(0);
  c.tie_word_embeddings = f.find_tensor(arch.gguf_lm_head) == nullptr;
  c.attention_bias = f.find_tensor(arch.gguf_layer_prefix + "0.attn_q.bias") != nullptr ||
                     f.find_tensor(arch.gguf_layer_prefix + "0.attn_output.bias") != nullptr;
  c.mlp_bias = f.find_tensor(arch.gguf_layer_prefix + "0.ffn_down.bias") != nullptr;

  RopeParams rope;
  rope.theta = has(p + "rope.freq_base") ? f.get_float(p + "rope.freq_base") : arch.default_rope_theta;
  if (has(p + "rope.dimension_count") && c.head_dim > 0)
    rope.partial_rotary_factor = double(f.get_int(p + "rope.dimension_count")) / double(c.head_dim);
  if (has(p + "rope.scaling.type")) rope.type = gguf_rope_type(f.get_string(p + "rope.scaling.type"), src);
  if (has(p + "rope.scaling.factor")) rope.factor = f.get_float(p + "rope.scaling.factor");
  if (rope.type != RopeType::Default && rope.factor == 0) rope.type = RopeType::Default;
  rope.original_max_position_embeddings = has(p + "rope.scaling.original_context_length")
                                              ? f.get_int(p + "rope.scaling.original_context_length")
                                              : c.max_position_embeddings;
  if (const formats::GgufTensorInfo* freqs = f.find_tensor("rope_freqs.weight")) {
    std::vector<float> divisors = formats::dequantize(*freqs);
    rope.frequency_divisors = divisors;
  }
  if (f.find_tensor("rope_factors_long.weight")) read_longrope(f, p, c.max_position_embeddings, rope);
  c.rope = rope;
  c.sliding_rope = rope;
  if (arch.separate_sliding_rope) {  // local layers: plain rope at their own base (llama.cpp's *_swa)
    c.sliding_rope = RopeParams{};
    c.sliding_rope.theta = has(p + "rope.freq_base_swa") ? f.get_float(p + "rope.freq_base_swa")
                                                         : arch.default_sliding_rope_theta;
    c.sliding_rope.partial_rotary_factor = rope.partial_rotary_factor;
  }

  if (arch.sliding_layers != SlidingLayers::None) c.sliding_window = window;
  // An absurd layer count must reach validate() as an error, not as a huge allocation here.
  c.layer_is_sliding.assign(size_t(std::clamp<int64_t>(c.num_layers, 0, kMaxLayers)), false);
  for (int64_t i = 0; c.sliding_window && i < int64_t(c.layer_is_sliding.size()); ++i) {
    switch (arch.sliding_layers) {
      case SlidingLayers::Even: c.layer_is_sliding[i] = i % 2 == 0; break;
      case SlidingLayers::AllButEveryNth: c.layer_is_sliding[i] = (i + 1) % arch.default_sliding_window_pattern != 0; break;
      case SlidingLayers::All: c.layer_is_sliding[i] = true; break;
      default: break;
    }
  }
  if (arch.has_softcapping) {
    if (has(p + "attn_logit_softcapping")) c.attn_logit_softcapping = f.get_float(p + "attn_logit_softcapping");
    if (has(p + "final_logit_softcapping")) c.final_logit_softcapping = f.get_float(p + "final_logit_softcapping");
  }
  c.attention_scale = 1.0 / std::sqrt(arch.attention_scale_from_config ? gguf_query_pre_attn_scalar(arch, c)
                                                                       : double(c.head_dim));

  if (has("tokenizer.ggml.bos_token_id")) c.bos_token_id = f.get_int("tokenizer.ggml.bos_token_id");
  if (has("tokenizer.ggml.padding_token_id")) c.pad_token_id = f.get_int("tokenizer.ggml.padding_token_id");
  for (const char* key : {"tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"})
    if (has(key)) {
      int64_t id = f.get_int(key);
      if (std::find(c.eos_token_ids.begin(), c.eos_token_ids.end(), id) == c.eos_token_ids.end())
        c.eos_token_ids.push_back(id);
    }
  c.validate(src);
  return c;
}

}  // namespace tailor::models
