#include "train/decoder_kernels.h"

#include "kernels/causal_attention.h"
#include "kernels/glu.h"
#include "kernels/rms_norm.h"
#include "kernels/rope.h"

namespace tailor::train {

const models::DecoderOps& decoder_ops(kernels::KernelMode mode) {
  if (mode == kernels::KernelMode::reference) return models::reference_decoder_ops();
  static const models::DecoderOps fused = [] {
    models::DecoderOps ops;
    ops.rms_norm = [](const at::Tensor& x, const at::Tensor& w, double eps, models::NormKind kind) {
      return kernels::rms_norm(x, w, eps, kind == models::NormKind::OnePlusWeight, kernels::KernelMode::fused);
    };
    ops.rope = [](const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
      return kernels::apply_rope_cos_sin(x, cos, sin, kernels::KernelMode::fused);
    };
    ops.gated_activation = [](const at::Tensor& gate, const at::Tensor& up, models::Activation act) {
      auto glu = act == models::Activation::Silu ? kernels::GluActivation::silu : kernels::GluActivation::gelu_tanh;
      return kernels::glu(gate, up, glu, kernels::KernelMode::fused);
    };
    ops.causal_attention = [](const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale,
                              const at::Tensor& first_key) {
      return kernels::causal_attention(q, k, v, scale, kernels::KernelMode::fused, first_key);
    };
    ops.key_ranges = true;
    return ops;
  }();
  return fused;
}

}  // namespace tailor::train
