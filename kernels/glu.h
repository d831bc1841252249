// Gated MLP activations: act(gate) * up, with act = silu (SwiGLU) or tanh-approximated gelu (GeGLU).
#pragma once

#include <ATen/core/Tensor.h>

#include "kernels/glu_launch.h"
#include "kernels/kernel_mode.h"

namespace tailor::kernels {

// gate and up have the same shape and dtype. fused: one kernel each way, saving gate and up only
// (CPU: float32/bfloat16/float64; CUDA: float32/bfloat16).
at::Tensor glu(const at::Tensor& gate, const at::Tensor& up, GluActivation act, KernelMode mode);

at::Tensor glu_reference(const at::Tensor& gate, const at::Tensor& up, GluActivation act);

}  // namespace tailor::kernels
