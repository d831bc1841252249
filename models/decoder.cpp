#include "models/decoder.h"

#include <ATen/ATen.h>

#include <cmath>

#include "core/error.h"

namespace tailor::models {
namespace {

// "self_attn.q_proj" -> "q_proj": modules register their children under the table's leaf names.
std::string leaf_name(const std::string& module_path) { return module_path.substr(module_path.rfind('.') + 1); }

bool is_attention_role(LinearRole role) {
  return role == LinearRole::Query || role == LinearRole::Key || role == LinearRole::Value ||
         role == LinearRole::FusedQkv || role == LinearRole::Output;
}

bool is_head_norm(NormRole role) { return role == NormRole::QueryHeads || role == NormRole::KeyHeads; }

// Attention written out (scores, soft-cap, mask, softmax in float32), for what SDPA cannot express.
at::Tensor softcapped_attention(const at::Tensor& q, at::Tensor k, at::Tensor v, const at::Tensor& mask,
                                bool causal, double scale, double softcap) {
  const int64_t groups = q.size(1) / k.size(1);
  if (groups > 1) {
    k = k.repeat_interleave(groups, 1);
    v = v.repeat_interleave(groups, 1);
  }
  at::Tensor scores = at::matmul(q, k.transpose(2, 3)) * scale;
  scores = at::tanh(scores / softcap) * softcap;
  at::Tensor allowed = mask;
  if (!allowed.defined() && causal) {
    const int64_t tq = q.size(2), tk = k.size(2);
    allowed = at::ones({tq, tk}, q.options().dtype(at::kBool)).tril(tk - tq);
  }
  if (allowed.defined()) scores = scores.masked_fill(allowed.logical_not(), -std::numeric_limits<float>::infinity());
  at::Tensor probs = at::softmax(scores, -1, at::kFloat).to(q.scalar_type());
  return at::matmul(probs, v);
}

}  // namespace

RmsNormImpl::RmsNormImpl(int64_t dim, double eps, NormKind kind, const at::TensorOptions& options)
    : eps_(eps), kind_(kind) {
  weight = register_parameter("weight", at::zeros({dim}, options), /*requires_grad=*/false);
}

EmbeddingImpl::EmbeddingImpl(int64_t vocab, int64_t dim, const at::TensorOptions& options) {
  weight = register_parameter("weight", at::zeros({vocab, dim}, options), /*requires_grad=*/false);
}

at::Tensor EmbeddingImpl::forward(const at::Tensor& ids) { return at::embedding(weight, ids); }

void ProjectionOwner::add_projection(const LinearSpec& spec, const ModelConfig& config,
                                     const at::TensorOptions& options) {
  auto linear = std::make_shared<DenseLinear>(resolve(spec.in, config), resolve(spec.out, config),
                                              has_bias(spec, config), options);
  names_[spec.role] = leaf_name(spec.module);
  projections_[spec.role] = register_module<LinearLike>(names_[spec.role], linear);
}

void ProjectionOwner::replace_projection(LinearRole role, std::shared_ptr<LinearLike> replacement) {
  projections_.at(role) = replace_module<LinearLike>(names_.at(role), std::move(replacement));
}

AttentionImpl::AttentionImpl(const ModelConfig& c, int64_t layer, const at::TensorOptions& options)
    : layer_(layer),
      heads_(c.num_heads),
      kv_heads_(c.num_kv_heads),
      head_dim_(c.head_dim),
      sliding_(c.layer_is_sliding.at(size_t(layer))),
      fused_qkv_(c.arch->find_linear(LinearRole::FusedQkv) != nullptr),
      scale_(c.attention_scale),
      eps_(c.rms_norm_eps),
      softcap_(c.attn_logit_softcapping) {
  for (const LinearSpec& spec : c.arch->linears)
    if (is_attention_role(spec.role)) add_projection(spec, c, options);
  for (const NormSpec& norm : c.arch->norms) {
    if (!is_head_norm(norm.role)) continue;
    RmsNorm module(resolve(norm.dim, c), c.rms_norm_eps, c.arch->norm_kind, options);
    (norm.role == NormRole::QueryHeads ? q_norm_ : k_norm_) = register_module(leaf_name(norm.module), module);
  }
}

at::Tensor AttentionImpl::forward(const at::Tensor& x, const LayerContext& ctx) {
  const int64_t B = x.size(0), T = x.size(1), H = heads_, KV = kv_heads_, D = head_dim_;
  at::Tensor q, k, v;
  if (fused_qkv_) {
    at::Tensor qkv = projection(LinearRole::FusedQkv).forward(x);  // [B, T, (H + 2 KV) D]
    q = qkv.narrow(-1, 0, H * D);
    k = qkv.narrow(-1, H * D, KV * D);
    v = qkv.narrow(-1, (H + KV) * D, KV * D);
  } else {
    q = projection(LinearRole::Query).forward(x);
    k = projection(LinearRole::Key).forward(x);
    v = projection(LinearRole::Value).forward(x);
  }
  q = q.reshape({B, T, H, D}).transpose(1, 2);  // [B, H, T, D]
  k = k.reshape({B, T, KV, D}).transpose(1, 2);
  v = v.reshape({B, T, KV, D}).transpose(1, 2);
  if (q_norm_) q = q_norm_->forward(q, *ctx.ops);
  if (k_norm_) k = k_norm_->forward(k, *ctx.ops);
  const at::Tensor& cos = sliding_ ? ctx.sliding_cos : ctx.cos;
  const at::Tensor& sin = sliding_ ? ctx.sliding_sin : ctx.sin;
  q = ctx.ops->rope(q, cos, sin);
  k = ctx.ops->rope(k, cos, sin);
  if (ctx.cache) std::tie(k, v) = ctx.cache->append(layer_, k, v);

  const at::Tensor& mask = sliding_ ? ctx.sliding_mask : ctx.full_mask;
  const at::Tensor& first_key = sliding_ ? ctx.sliding_first_key : ctx.full_first_key;  // stands in for mask
  const bool causal = !mask.defined() && ctx.causal_without_mask;
  at::Tensor out;
  if (softcap_)
    out = softcapped_attention(q, k, v, mask, causal, scale_, *softcap_);
  else if (first_key.defined())
    out = ctx.ops->causal_attention(q, k, v, scale_, first_key);
  else if (causal && !ctx.cache)
    out = ctx.ops->causal_attention(q, k, v, scale_, {});
  else
    out = at::scaled_dot_product_attention(q, k, v, mask.defined() ? std::optional<at::Tensor>(mask) : std::nullopt,
                                           0.0, causal, scale_, /*enable_gqa=*/KV != H);
  out = out.transpose(1, 2).reshape({B, T, H * D});
  return projection(LinearRole::Output).forward(out);
}

MlpImpl::MlpImpl(const ModelConfig& c, const at::TensorOptions& options)
    : activation_(c.arch->activation), fused_gate_up_(c.arch->find_linear(LinearRole::FusedGateUp) != nullptr) {
  for (const LinearSpec& spec : c.arch->linears)
    if (!is_attention_role(spec.role)) add_projection(spec, c, options);
}

at::Tensor MlpImpl::forward(const at::Tensor& x, const DecoderOps& ops) {
  at::Tensor gate, up;
  if (fused_gate_up_) {
    at::Tensor both = projection(LinearRole::FusedGateUp).forward(x);  // [B, T, 2F]: gate half, then up half
    const int64_t F = both.size(-1) / 2;
    gate = both.narrow(-1, 0, F);
    up = both.narrow(-1, F, F);
  } else {
    gate = projection(LinearRole::Gate).forward(x);
    up = projection(LinearRole::Up).forward(x);
  }
  return projection(LinearRole::Down).forward(ops.gated_activation(gate, up, activation_));
}

DecoderLayerImpl::DecoderLayerImpl(const ModelConfig& c, int64_t layer, const at::TensorOptions& options) {
  // Registration order follows HF's state_dict: attention, mlp, then the layer norms.
  self_attn = register_module("self_attn", Attention(c, layer, options));
  mlp = register_module("mlp", Mlp(c, options));
  for (const NormSpec& norm : c.arch->norms) {
    if (is_head_norm(norm.role)) continue;
    norms_.emplace(norm.role,
                   register_module(norm.module, RmsNorm(resolve(norm.dim, c), c.rms_norm_eps, c.arch->norm_kind, options)));
  }
}

at::Tensor DecoderLayerImpl::forward(const at::Tensor& x, const LayerContext& ctx) {
  auto norm = [&](NormRole role, const at::Tensor& h) {
    auto it = norms_.find(role);
    return it == norms_.end() ? h : it->second->forward(h, *ctx.ops);
  };
  at::Tensor h = x + norm(NormRole::AfterAttention, self_attn->forward(norm(NormRole::BeforeAttention, x), ctx));
  return h + norm(NormRole::AfterMlp, mlp->forward(norm(NormRole::BeforeMlp, h), *ctx.ops));
}

DecoderStackImpl::DecoderStackImpl(const ModelConfig& c, const at::TensorOptions& options) {
  embed_tokens = register_module("embed_tokens", Embedding(c.vocab_size, c.hidden_size, options));
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.num_layers; ++i) layers->push_back(DecoderLayer(c, i, options));
  norm = register_module("norm", RmsNorm(c.hidden_size, c.rms_norm_eps, c.arch->norm_kind, options));
}

CausalLMImpl::CausalLMImpl(ModelConfig config, const at::TensorOptions& options)
    : config_(std::move(config)), options_(options), ops_(reference_decoder_ops()) {
  config_.validate("model config");
  model = register_module("model", DecoderStack(config_, options_));
  if (!config_.tie_word_embeddings)
    lm_head = register_module("lm_head",
                              std::make_shared<DenseLinear>(config_.hidden_size, config_.vocab_size, false, options_));
  rope_ = rope_frequencies(config_.rope, config_.rotary_dim());
  sliding_rope_ = rope_frequencies(config_.sliding_rope, config_.rotary_dim());
}

KvCache CausalLMImpl::new_cache(int64_t batch, int64_t capacity) const {
  return KvCache(config_.num_layers, batch, config_.num_kv_heads, config_.head_dim, capacity, options_);
}

at::Tensor CausalLMImpl::hidden_states(const at::Tensor& input_ids, const SequenceLayout& layout, KvCache* cache) {
  if (input_ids.dim() != 2) throw InputError("input_ids must be [batch, tokens]");
  const int64_t B = input_ids.size(0), T = input_ids.size(1);
  const int64_t past = cache ? cache->length() : 0;
  const at::Device dev = options_.device();
  at::Tensor ids = input_ids.to(dev);
  if (ids.numel() > 0 && (ids.min().item<int64_t>() < 0 || ids.max().item<int64_t>() >= config_.vocab_size))
    throw InputError("token id out of range [0, " + std::to_string(config_.vocab_size) + ")");

  at::Tensor positions = layout.position_ids.defined()
                             ? layout.position_ids.to(dev)
                             : (at::arange(T, at::TensorOptions().dtype(at::kLong).device(dev)) + past).expand({B, T});

  LayerContext ctx;
  ctx.ops = &ops_;
  ctx.cache = cache;
  ctx.causal_without_mask = past == 0;
  const at::ScalarType dtype = options_.dtype().toScalarType();
  // longrope picks its factor set by the longest position in use, as transformers does.
  const int64_t max_position = positions.numel() ? positions.max().item<int64_t>() + 1 : 0;
  if (config_.rope.type == RopeType::LongRope) rope_ = rope_frequencies(config_.rope, config_.rotary_dim(), max_position);
  std::tie(ctx.cos, ctx.sin) = rope_cos_sin(rope_, positions, dtype);
  if (config_.arch->separate_sliding_rope)
    std::tie(ctx.sliding_cos, ctx.sliding_sin) = rope_cos_sin(sliding_rope_, positions, dtype);
  else
    ctx.sliding_cos = ctx.cos, ctx.sliding_sin = ctx.sin;
  // Key ranges replace the dense masks where the ops take them (no cache, no soft-capped scores).
  if (ops_.key_ranges && !cache && !config_.attn_logit_softcapping) {
    ctx.full_first_key = first_visible_keys(layout, B, T, std::nullopt);
    if (config_.sliding_window) ctx.sliding_first_key = first_visible_keys(layout, B, T, config_.sliding_window);
  }
  if (!ctx.full_first_key.defined()) ctx.full_mask = attention_mask_for(layout, B, T, past, std::nullopt, dev);
  if (config_.sliding_window && !ctx.sliding_first_key.defined())
    ctx.sliding_mask = attention_mask_for(layout, B, T, past, config_.sliding_window, dev);

  at::Tensor h = model->embed_tokens->forward(ids);  // [B, T, C]
  if (config_.arch->scale_embeddings)  // the scalar is rounded to the activation dtype first, as HF does
    h = h * at::scalar_tensor(std::sqrt(double(config_.hidden_size)), h.options());
  for (const auto& module : *model->layers) {
    auto layer = std::dynamic_pointer_cast<DecoderLayerImpl>(module);
    if (!layer_runner_) {
      h = layer->forward(h, ctx);
      continue;
    }
    // By value: a checkpointing runner calls it again during backward, after this function returned.
    h = layer_runner_(*layer, [layer, ctx](const at::Tensor& x) { return layer->forward(x, ctx); }, h);
  }
  return model->norm->forward(h, ops_);
}

at::Tensor CausalLMImpl::lm_head_weight() const { return lm_head ? lm_head->weight : model->embed_tokens->weight; }

at::Tensor CausalLMImpl::logits(const at::Tensor& hidden, int64_t last_positions) {
  at::Tensor h = last_positions > 0 && last_positions < hidden.size(1)
                     ? hidden.narrow(1, hidden.size(1) - last_positions, last_positions)
                     : hidden;
  at::Tensor out = lm_head ? lm_head->forward(h) : at::linear(h, model->embed_tokens->weight);
  if (config_.final_logit_softcapping) {
    const double cap = *config_.final_logit_softcapping;
    out = at::tanh(out / cap) * cap;
  }
  return out;
}

std::vector<LinearSlot> CausalLMImpl::linear_slots() {
  std::vector<LinearSlot> slots;
  for (const LinearLayerInfo& info : linear_layers(config_)) {
    auto layer = (*model->layers)[size_t(info.layer)]->as<DecoderLayer>();
    ProjectionOwner* owner = is_attention_role(info.spec->role) ? static_cast<ProjectionOwner*>(layer->self_attn.get())
                                                                : static_cast<ProjectionOwner*>(layer->mlp.get());
    const LinearRole role = info.spec->role;
    slots.push_back({info, owner->projection_ptr(role),
                     [owner, role](std::shared_ptr<LinearLike> replacement) {
                       owner->replace_projection(role, std::move(replacement));
                     }});
  }
  return slots;
}

}  // namespace tailor::models
