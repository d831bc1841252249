// The decoder-only transformer, built from an ArchSpec table and a ModelConfig. Modules are registered
// under the table's names, so named_parameters() gives exactly the HF state_dict names
// ("model.layers.0.self_attn.q_proj.weight"), and a tied lm_head is not a separate parameter.
//
//   CausalLM            "model" (DecoderStack), "lm_head" (LinearLike; absent when tied)
//   DecoderStack        "embed_tokens" (Embedding), "layers" (ModuleList of DecoderLayer), "norm" (RmsNorm)
//   DecoderLayer        "self_attn" (Attention), "mlp" (Mlp), its norms by table name
//   Attention / Mlp     projections (LinearLike) by table name, e.g. "q_proj", "gate_up_proj"
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/pimpl.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "models/decoder_ops.h"
#include "models/kv_cache.h"
#include "models/linear_like.h"
#include "models/model_config.h"
#include "models/rope.h"
#include "models/sequence_layout.h"
#include "models/tensor_inventory.h"

namespace tailor::models {

class RmsNormImpl : public torch::nn::Module {
 public:
  RmsNormImpl(int64_t dim, double eps, NormKind kind, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& x, const DecoderOps& ops) { return ops.rms_norm(x, weight, eps_, kind_); }
  at::Tensor weight;

 private:
  double eps_;
  NormKind kind_;
};
TORCH_MODULE(RmsNorm);

class EmbeddingImpl : public torch::nn::Module {
 public:
  EmbeddingImpl(int64_t vocab, int64_t dim, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& ids);
  at::Tensor weight;  // [V, C]
};
TORCH_MODULE(Embedding);

// What one forward pass needs besides the hidden states: rope tables and masks for both layer kinds.
struct LayerContext {
  const DecoderOps* ops;
  at::Tensor cos, sin;                  // full-attention layers, [B, T, R]
  at::Tensor sliding_cos, sliding_sin;  // sliding layers
  at::Tensor full_mask, sliding_mask;   // [B, 1, Tq, Tk] bool, or undefined (plain causal)
  // The same masks as key ranges (see first_visible_keys), when the ops take them and there is no cache;
  // the dense mask of that kind is then not built.
  at::Tensor full_first_key, sliding_first_key;
  bool causal_without_mask = false;     // queries start at position 0 of the keys (no cache)
  KvCache* cache = nullptr;
};

// Projections held by role, registered under their table names, replaceable (LoRA wraps them).
class ProjectionOwner : public torch::nn::Module {
 public:
  LinearLike& projection(LinearRole role) const { return *projections_.at(role); }
  std::shared_ptr<LinearLike> projection_ptr(LinearRole role) const { return projections_.at(role); }
  void replace_projection(LinearRole role, std::shared_ptr<LinearLike> replacement);

 protected:
  void add_projection(const LinearSpec& spec, const ModelConfig& config, const at::TensorOptions& options);

 private:
  std::map<LinearRole, std::shared_ptr<LinearLike>> projections_;
  std::map<LinearRole, std::string> names_;
};

class AttentionImpl : public ProjectionOwner {
 public:
  AttentionImpl(const ModelConfig& config, int64_t layer, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& x, const LayerContext& ctx);  // x [B, T, C]

 private:
  int64_t layer_, heads_, kv_heads_, head_dim_;
  bool sliding_, fused_qkv_;
  double scale_, eps_;
  std::optional<double> softcap_;
  RmsNorm q_norm_{nullptr}, k_norm_{nullptr};
};
TORCH_MODULE(Attention);

class MlpImpl : public ProjectionOwner {
 public:
  MlpImpl(const ModelConfig& config, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& x, const DecoderOps& ops);

 private:
  Activation activation_;
  bool fused_gate_up_;
};
TORCH_MODULE(Mlp);

class DecoderLayerImpl : public torch::nn::Module {
 public:
  DecoderLayerImpl(const ModelConfig& config, int64_t layer, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& x, const LayerContext& ctx);
  Attention self_attn{nullptr};
  Mlp mlp{nullptr};

 private:
  std::map<NormRole, RmsNorm> norms_;
};
TORCH_MODULE(DecoderLayer);

class DecoderStackImpl : public torch::nn::Module {
 public:
  DecoderStackImpl(const ModelConfig& config, const at::TensorOptions& options);
  Embedding embed_tokens{nullptr};
  torch::nn::ModuleList layers{nullptr};
  RmsNorm norm{nullptr};
};
TORCH_MODULE(DecoderStack);

// A projection slot LoRA can wrap: where it is, its sizes, the module now in it, and how to replace it.
struct LinearSlot {
  LinearLayerInfo info;
  std::shared_ptr<LinearLike> module;
  std::function<void(std::shared_ptr<LinearLike>)> replace;
};

class CausalLMImpl : public torch::nn::Module {
 public:
  CausalLMImpl(ModelConfig config, const at::TensorOptions& options);

  // input_ids [B, T] int64 -> final hidden states [B, T, C] (after the last norm).
  at::Tensor hidden_states(const at::Tensor& input_ids, const SequenceLayout& layout = {}, KvCache* cache = nullptr);
  // Logits [B, T', V] in the model's dtype for the last `last_positions` positions (0 = all).
  at::Tensor logits(const at::Tensor& hidden, int64_t last_positions = 0);
  at::Tensor forward(const at::Tensor& input_ids, const SequenceLayout& layout = {}, KvCache* cache = nullptr,
                     int64_t last_positions = 0) {
    return logits(hidden_states(input_ids, layout, cache), last_positions);
  }

  const ModelConfig& config() const { return config_; }
  at::ScalarType dtype() const { return options_.dtype().toScalarType(); }
  at::Device device() const { return options_.device(); }
  KvCache new_cache(int64_t batch, int64_t capacity) const;

  // The fused-or-reference switch: element-wise ops every layer calls.
  void set_ops(const DecoderOps& ops) { ops_ = ops; }

  // How each decoder layer is run: runner(layer, forward, h) must return forward(h). The trainer's
  // activation checkpointing wraps it; unset, layers run directly. `forward` stays valid after the pass.
  using LayerForward = std::function<at::Tensor(const at::Tensor&)>;
  using LayerRunner = std::function<at::Tensor(torch::nn::Module& layer, const LayerForward& forward, const at::Tensor& h)>;
  void set_layer_runner(LayerRunner runner) { layer_runner_ = std::move(runner); }

  // Every projection of every layer (HF order), for LoRA targeting and replacement.
  std::vector<LinearSlot> linear_slots();
  at::Tensor lm_head_weight() const;  // [V, C]: the embedding when tied

  DecoderStack model{nullptr};
  std::shared_ptr<DenseLinear> lm_head;  // nullptr when tied

 private:
  ModelConfig config_;
  at::TensorOptions options_;
  DecoderOps ops_;
  LayerRunner layer_runner_;
  RopeFrequencies rope_, sliding_rope_;
};
TORCH_MODULE(CausalLM);

}  // namespace tailor::models
