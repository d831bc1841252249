#include "train/decoder_kernels.h"

#include "kernels/glu.h"
#include "kernels/rms_norm.h"

namespace tailor::train {

const models::DecoderOps& decoder_ops(kernels::KernelMode mode) {
  if (mode == kernels::KernelMode::reference) return models::reference_decoder_ops();
  static const models::DecoderOps fused = [] {
    models::DecoderOps ops = models::reference_decoder_ops();  // rope: reference until kernels/ has it
    ops.rms_norm = [](const at::Tensor& x, const at::Tensor& w, double eps, models::NormKind kind) {
      return kernels::rms_norm(x, w, eps, kind == models::NormKind::OnePlusWeight, kernels::KernelMode::fused);
    };
    ops.gated_activation = [](const at::Tensor& gate, const at::Tensor& up, models::Activation act) {
      auto glu = act == models::Activation::Silu ? kernels::GluActivation::silu : kernels::GluActivation::gelu_tanh;
      return kernels::glu(gate, up, glu, kernels::KernelMode::fused);
    };
    return ops;
  }();
  return fused;
}

}  // namespace tailor::train
