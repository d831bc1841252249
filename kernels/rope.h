// Rotary position embedding as HF Llama applies it (rotate_half, cos/sin = cat(freqs, freqs)), with the
// default, linear, llama3 and yarn frequency tables. Position ids come per token, so packed sequences
// that restart positions per document need nothing special.
#pragma once

#include <ATen/core/Tensor.h>

#include <optional>
#include <utility>

#include "kernels/kernel_mode.h"

namespace tailor::kernels {

// The rope_type fields of config.json's rope_scaling / rope_parameters (formats.md §2.3).
struct RopeScaling {
  enum class Kind { none, linear, llama3, yarn };
  Kind kind = Kind::none;
  double factor = 1.0;
  double low_freq_factor = 1.0, high_freq_factor = 4.0;  // llama3
  int64_t original_max_position_embeddings = 8192;       // llama3, yarn
  double beta_fast = 32.0, beta_slow = 1.0;              // yarn
  std::optional<double> attention_factor;                // yarn; default 0.1 ln(factor) + 1
  double mscale = 0.0, mscale_all_dim = 0.0;             // yarn (DeepSeek style)
  bool truncate = true;                                  // yarn
};

// inv_freq[i] for i < rotary_dim / 2 (float32, computed as transformers does), and the factor cos/sin
// are multiplied by (1 except for yarn).
std::pair<at::Tensor, double> rope_inverse_frequencies(double theta, int64_t rotary_dim, const RopeScaling& scaling);

// cos/sin of position * inv_freq (times the attention factor), [max_positions, rotary_dim / 2] float32.
struct RopeTables {
  at::Tensor cos, sin;
};
RopeTables rope_tables(double theta, int64_t rotary_dim, int64_t max_positions, const RopeScaling& scaling,
                       at::Device device = at::kCPU);

// q [..., Hq, D], k [..., Hk, D], position_ids [...] (int64, the same leading shape, each in
// [0, max_positions); checked on CPU, clamped on CUDA). Rotates the first rotary_dim dims of every head.
// Differentiable in q and k. fused: one kernel per tensor each way, saving nothing but the positions.
std::pair<at::Tensor, at::Tensor> apply_rope(const at::Tensor& q, const at::Tensor& k, const RopeTables& tables,
                                             const at::Tensor& position_ids, KernelMode mode);

// The decoder's form (models::DecoderOps::rope): x [B, H, T, D] (any strides), cos/sin [B or 1, T, R] as
// transformers builds them (cat(freqs, freqs), attention scaling folded in, any floating dtype). Rotates
// the first R dims of every head; differentiable in x. fused: reads x in place through its strides and
// uses only the first half of cos/sin (the second repeats it); reference: transformers' formula.
at::Tensor apply_rope_cos_sin(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin, KernelMode mode);

// transformers' apply_rotary_pos_emb, with cos/sin cast to the activations' dtype first as it does.
at::Tensor apply_rope_reference(const at::Tensor& x, const RopeTables& tables, const at::Tensor& position_ids);

}  // namespace tailor::kernels
