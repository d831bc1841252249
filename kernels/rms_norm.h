// RMSNorm over the last dimension: y = x / sqrt(mean(x^2) + eps) * w, or * (1 + w) for Gemma
// (unit_offset). Math runs in float32 (float64 for float64 inputs); y has x's dtype.
#pragma once

#include <ATen/core/Tensor.h>

#include "kernels/kernel_mode.h"

namespace tailor::kernels {

// Differentiable in x and weight under either mode. fused: one kernel each way, saving only x and the
// per-row rstd for backward (CPU: float32/bfloat16/float64; CUDA: float32/bfloat16).
at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps, bool unit_offset, KernelMode mode);

// Plain LibTorch ops; autograd saves what it saves.
at::Tensor rms_norm_reference(const at::Tensor& x, const at::Tensor& weight, double eps, bool unit_offset);

}  // namespace tailor::kernels
