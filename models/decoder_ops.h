// The element-wise ops of a decoder block behind one indirection, so a fused implementation (kernels/,
// selected by `kernels: fused | reference`) can replace the reference without touching the decoder.
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>

#include "models/arch_spec.h"

namespace tailor::models {

struct DecoderOps {
  // RMSNorm over the last dim. Weight kind: y = w·x̂ (cast to x's dtype before the product, as Llama
  // does) or y = (1 + w)·x̂ (computed in float32, then cast, as Gemma does).
  std::function<at::Tensor(const at::Tensor& x, const at::Tensor& weight, double eps, NormKind kind)> rms_norm;
  // NeoX-style rotation of the first cos.size(-1) dims of x [B, H, T, D] by cos/sin [B, T, R].
  std::function<at::Tensor(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin)> rope;
  // act(gate) * up for the gated MLP.
  std::function<at::Tensor(const at::Tensor& gate, const at::Tensor& up, Activation act)> gated_activation;
  // Causal attention without cache: q [B, H, T, D], k/v [B, KV, T, D] -> [B, H, T, D]; first_key (int64
  // [B, T] or undefined) limits query t to keys first_key[b, t] .. t (packed documents, sliding windows).
  std::function<at::Tensor(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale,
                           const at::Tensor& first_key)>
      causal_attention;
  // Whether causal_attention takes key ranges; otherwise packed and windowed batches use SDPA with a mask.
  bool key_ranges = false;
};

// Plain LibTorch ops, mirroring transformers' modeling code operation by operation.
const DecoderOps& reference_decoder_ops();

}  // namespace tailor::models
