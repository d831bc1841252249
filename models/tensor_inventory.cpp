#include "models/tensor_inventory.h"

namespace tailor::models {

int64_t resolve(Dim dim, const ModelConfig& c) {
  switch (dim) {
    case Dim::Hidden: return c.hidden_size;
    case Dim::QueryOut: return c.num_heads * c.head_dim;
    case Dim::KeyValueOut: return c.num_kv_heads * c.head_dim;
    case Dim::FusedQkvOut: return (c.num_heads + 2 * c.num_kv_heads) * c.head_dim;
    case Dim::Intermediate: return c.intermediate_size;
    case Dim::FusedGateUpOut: return 2 * c.intermediate_size;
    case Dim::HeadDim: return c.head_dim;
    case Dim::Vocab: return c.vocab_size;
  }
  return 0;
}

bool has_bias(const LinearSpec& spec, const ModelConfig& c) {
  switch (spec.bias) {
    case BiasRule::Never: return false;
    case BiasRule::Always: return true;
    case BiasRule::AttentionBias: return c.attention_bias;
    case BiasRule::MlpBias: return c.mlp_bias;
  }
  return false;
}

std::vector<LinearLayerInfo> linear_layers(const ModelConfig& c) {
  const ArchSpec& arch = *c.arch;
  std::vector<LinearLayerInfo> out;
  for (int64_t layer = 0; layer < c.num_layers; ++layer) {
    const std::string hf = arch.layer_prefix + std::to_string(layer) + ".";
    const std::string gguf = arch.gguf_layer_prefix + std::to_string(layer) + ".";
    for (const LinearSpec& spec : arch.linears)
      out.push_back({layer, &spec, hf + spec.module, gguf + spec.gguf + ".weight", resolve(spec.in, c),
                     resolve(spec.out, c), has_bias(spec, c), spec.lora_target});
  }
  return out;
}

std::vector<TensorInfo> model_tensors(const ModelConfig& c) {
  const ArchSpec& arch = *c.arch;
  std::vector<TensorInfo> out;
  out.push_back({arch.embed_tokens, arch.gguf_embed_tokens, {c.vocab_size, c.hidden_size}});
  for (int64_t layer = 0; layer < c.num_layers; ++layer) {
    const std::string hf = arch.layer_prefix + std::to_string(layer) + ".";
    const std::string gguf = arch.gguf_layer_prefix + std::to_string(layer) + ".";
    for (const NormSpec& norm : arch.norms)
      out.push_back({hf + norm.module + ".weight", gguf + norm.gguf + ".weight", {resolve(norm.dim, c)}});
    for (const LinearSpec& spec : arch.linears) {
      const int64_t in = resolve(spec.in, c), rows = resolve(spec.out, c);
      out.push_back({hf + spec.module + ".weight", gguf + spec.gguf + ".weight", {rows, in}});
      if (has_bias(spec, c)) out.push_back({hf + spec.module + ".bias", gguf + spec.gguf + ".bias", {rows}});
    }
  }
  out.push_back({arch.final_norm, arch.gguf_final_norm, {c.hidden_size}});
  if (!c.tie_word_embeddings) out.push_back({arch.lm_head, arch.gguf_lm_head, {c.vocab_size, c.hidden_size}});
  return out;
}

}  // namespace tailor::models
