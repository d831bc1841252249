#include "models/decoder_ops.h"

#include <ATen/ATen.h>

namespace tailor::models {
namespace {

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps, NormKind kind) {
  at::Tensor x32 = x.to(at::kFloat);
  at::Tensor normed = x32 * at::rsqrt(x32.pow(2).mean(-1, /*keepdim=*/true) + eps);
  if (kind == NormKind::OnePlusWeight) return (normed * (1.0 + weight.to(at::kFloat))).to(x.scalar_type());
  return weight * normed.to(x.scalar_type());
}

at::Tensor rotate_half(const at::Tensor& x) {
  const int64_t half = x.size(-1) / 2;
  return at::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
}

at::Tensor rope(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  at::Tensor c = cos.unsqueeze(1), s = sin.unsqueeze(1);  // [B, 1, T, R]
  const int64_t rotary = cos.size(-1);
  if (rotary == x.size(-1)) return x * c + rotate_half(x) * s;
  at::Tensor rot = x.narrow(-1, 0, rotary), pass = x.narrow(-1, rotary, x.size(-1) - rotary);
  return at::cat({rot * c + rotate_half(rot) * s, pass}, -1);
}

at::Tensor gated_activation(const at::Tensor& gate, const at::Tensor& up, Activation act) {
  if (act == Activation::GeluTanh) return at::gelu(gate, "tanh") * up;
  return at::silu(gate) * up;
}

at::Tensor causal_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale,
                            const at::Tensor& /*first_key: never passed, key_ranges is false*/) {
  return at::scaled_dot_product_attention(q, k, v, std::nullopt, 0.0, /*is_causal=*/true, scale,
                                          /*enable_gqa=*/k.size(1) != q.size(1));
}

}  // namespace

const DecoderOps& reference_decoder_ops() {
  static const DecoderOps ops{rms_norm, rope, gated_activation, causal_attention};
  return ops;
}

}  // namespace tailor::models
