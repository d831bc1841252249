// The architecture tables. Each entry is data only: names from transformers' modeling_*.py and
// gguf-py's tensor_mapping.py, defaults from transformers' configuration_*.py.
#include <algorithm>

#include "core/error.h"
#include "models/arch_spec.h"

namespace tailor::models {
namespace {

using enum Dim;
using enum LinearRole;
using enum NormRole;

// q, k, v, o + gate, up, down: the layout Llama made standard.
std::vector<LinearSpec> llama_linears(BiasRule qkv_bias, BiasRule o_bias, BiasRule mlp_bias) {
  return {
      {Query, "self_attn.q_proj", "attn_q", Hidden, QueryOut, qkv_bias, true},
      {Key, "self_attn.k_proj", "attn_k", Hidden, KeyValueOut, qkv_bias, true},
      {Value, "self_attn.v_proj", "attn_v", Hidden, KeyValueOut, qkv_bias, true},
      {Output, "self_attn.o_proj", "attn_output", QueryOut, Hidden, o_bias, true},
      {Gate, "mlp.gate_proj", "ffn_gate", Hidden, Intermediate, mlp_bias, true},
      {Up, "mlp.up_proj", "ffn_up", Hidden, Intermediate, mlp_bias, true},
      {Down, "mlp.down_proj", "ffn_down", Intermediate, Hidden, mlp_bias, true},
  };
}

std::vector<NormSpec> pre_norms() {
  return {
      {BeforeAttention, "input_layernorm", "attn_norm", Hidden},
      {BeforeMlp, "post_attention_layernorm", "ffn_norm", Hidden},
  };
}

std::vector<NormSpec> qk_norms() {
  return {
      {QueryHeads, "self_attn.q_norm", "attn_q_norm", HeadDim},
      {KeyHeads, "self_attn.k_norm", "attn_k_norm", HeadDim},
  };
}

// Gemma 2/3: a norm before and after both the attention and the MLP.
std::vector<NormSpec> sandwich_norms() {
  return {
      {BeforeAttention, "input_layernorm", "attn_norm", Hidden},
      {AfterAttention, "post_attention_layernorm", "post_attention_norm", Hidden},
      {BeforeMlp, "pre_feedforward_layernorm", "ffn_norm", Hidden},
      {AfterMlp, "post_feedforward_layernorm", "post_ffw_norm", Hidden},
  };
}

template <typename T>
std::vector<T> concat(std::vector<T> a, const std::vector<T>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

ArchSpec llama() {
  ArchSpec a;
  a.name = "llama";  // Llama 2, Llama 3.x (rope_type llama3), SmolLM/SmolLM2
  a.hf_architectures = {"LlamaForCausalLM"};
  a.model_types = {"llama"};
  a.gguf_architectures = {"llama"};
  a.linears = llama_linears(BiasRule::AttentionBias, BiasRule::AttentionBias, BiasRule::MlpBias);
  a.norms = pre_norms();
  a.gguf_rope = GgufRope::LlamaPermuted;
  a.gguf_sliding_variant = "mistral";
  return a;
}

ArchSpec mistral() {
  ArchSpec a;
  a.name = "mistral";
  a.hf_architectures = {"MistralForCausalLM"};
  a.model_types = {"mistral"};
  a.gguf_architectures = {};  // llama.cpp's converter writes Mistral as `llama`
  a.linears = llama_linears(BiasRule::Never, BiasRule::Never, BiasRule::Never);
  a.norms = pre_norms();
  a.sliding_layers = SlidingLayers::All;
  a.default_sliding_window = 4096;
  a.gguf_rope = GgufRope::LlamaPermuted;
  return a;
}

ArchSpec qwen2() {
  ArchSpec a;
  a.name = "qwen2";  // Qwen2, Qwen2.5, DeepSeek-R1-Distill-Qwen
  a.hf_architectures = {"Qwen2ForCausalLM"};
  a.model_types = {"qwen2"};
  a.gguf_architectures = {"qwen2"};
  a.linears = llama_linears(BiasRule::Always, BiasRule::Never, BiasRule::Never);
  a.norms = pre_norms();
  a.sliding_layers = SlidingLayers::FromMaxWindowLayers;
  return a;
}

ArchSpec qwen3() {
  ArchSpec a;
  a.name = "qwen3";
  a.hf_architectures = {"Qwen3ForCausalLM"};
  a.model_types = {"qwen3"};
  a.gguf_architectures = {"qwen3"};
  a.linears = llama_linears(BiasRule::AttentionBias, BiasRule::AttentionBias, BiasRule::Never);
  a.norms = concat(pre_norms(), qk_norms());
  a.sliding_layers = SlidingLayers::FromMaxWindowLayers;
  a.default_head_dim = 128;
  return a;
}

ArchSpec gemma2() {
  ArchSpec a;
  a.name = "gemma2";
  a.hf_architectures = {"Gemma2ForCausalLM"};
  a.model_types = {"gemma2"};
  a.gguf_architectures = {"gemma2"};
  a.linears = llama_linears(BiasRule::AttentionBias, BiasRule::AttentionBias, BiasRule::Never);
  a.norms = sandwich_norms();
  a.norm_kind = NormKind::OnePlusWeight;
  a.activation = Activation::GeluTanh;
  a.scale_embeddings = true;
  a.attention_scale_from_config = true;
  a.has_softcapping = true;
  a.sliding_layers = SlidingLayers::Even;
  a.gguf_norms_store_one_plus = true;
  a.default_tie_embeddings = true;
  a.default_head_dim = 256;
  a.default_sliding_window = 4096;
  a.default_attn_softcap = 50.0;
  a.default_final_softcap = 30.0;
  a.gguf_scalar_from_hidden_layers = 46;  // gemma-2-27b
  return a;
}

ArchSpec gemma3() {
  ArchSpec a;
  a.name = "gemma3";  // the text model (Gemma3ForCausalLM, e.g. gemma-3-1b)
  a.hf_architectures = {"Gemma3ForCausalLM"};
  a.model_types = {"gemma3_text"};
  a.gguf_architectures = {"gemma3"};
  a.linears = llama_linears(BiasRule::AttentionBias, BiasRule::AttentionBias, BiasRule::Never);
  a.norms = concat(sandwich_norms(), qk_norms());
  a.norm_kind = NormKind::OnePlusWeight;
  a.activation = Activation::GeluTanh;
  a.scale_embeddings = true;
  a.attention_scale_from_config = true;
  a.has_softcapping = true;
  a.separate_sliding_rope = true;
  a.sliding_layers = SlidingLayers::AllButEveryNth;
  a.gguf_norms_store_one_plus = true;
  a.default_rope_theta = 1'000'000.0;
  a.default_sliding_rope_theta = 10'000.0;
  a.default_tie_embeddings = true;
  a.default_head_dim = 256;
  a.default_sliding_window = 4096;
  a.gguf_scalar_from_hidden_layers = 62;  // gemma-3-27b
  return a;
}

ArchSpec phi3() {
  ArchSpec a;
  a.name = "phi3";
  a.hf_architectures = {"Phi3ForCausalLM"};
  a.model_types = {"phi3"};
  a.gguf_architectures = {"phi3"};
  a.linears = {
      {FusedQkv, "self_attn.qkv_proj", "attn_qkv", Hidden, FusedQkvOut, BiasRule::Never, true},
      {Output, "self_attn.o_proj", "attn_output", QueryOut, Hidden, BiasRule::Never, true},
      {FusedGateUp, "mlp.gate_up_proj", "ffn_up", Hidden, FusedGateUpOut, BiasRule::Never, true},
      {Down, "mlp.down_proj", "ffn_down", Intermediate, Hidden, BiasRule::Never, true},
  };
  a.norms = pre_norms();
  a.sliding_layers = SlidingLayers::All;
  a.default_rms_norm_eps = 1e-5;
  return a;
}

const std::vector<ArchSpec>& registry() {
  static const std::vector<ArchSpec> specs = {llama(), mistral(), qwen2(), qwen3(), gemma2(), gemma3(), phi3()};
  return specs;
}

bool contains(const std::vector<std::string>& names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

}  // namespace

const LinearSpec* ArchSpec::find_linear(LinearRole role) const {
  for (const auto& l : linears)
    if (l.role == role) return &l;
  return nullptr;
}

const NormSpec* ArchSpec::find_norm(NormRole role) const {
  for (const auto& n : norms)
    if (n.role == role) return &n;
  return nullptr;
}

std::span<const ArchSpec* const> all_architectures() {
  static const std::vector<const ArchSpec*> pointers = [] {
    std::vector<const ArchSpec*> p;
    for (const auto& spec : registry()) p.push_back(&spec);
    return p;
  }();
  return pointers;
}

std::string supported_architectures() {
  std::string out;
  for (const auto& spec : registry()) {
    if (!out.empty()) out += ", ";
    out += spec.name + " (" + spec.hf_architectures.front() + ")";
  }
  return out;
}

const ArchSpec* find_architecture(std::string_view name) {
  for (const auto& spec : registry())
    if (spec.name == name || contains(spec.hf_architectures, name) || contains(spec.model_types, name) ||
        contains(spec.gguf_architectures, name))
      return &spec;
  return nullptr;
}

const ArchSpec& require_architecture(std::string_view name, std::string_view what) {
  if (const ArchSpec* spec = find_architecture(name)) return *spec;
  throw InputError(std::string(what) + ": unsupported architecture '" + std::string(name) +
                   "'; supported: " + supported_architectures());
}

}  // namespace tailor::models
