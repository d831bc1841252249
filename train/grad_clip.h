// Gradient clipping by global L2 norm, computed as torch.nn.utils.clip_grad_norm_ does (per-tensor norms,
// the norm of those norms, coefficient max_norm / (norm + 1e-6) clamped to 1 and always applied).
#pragma once

#include <ATen/core/Tensor.h>

#include <vector>

namespace tailor::train {

// Returns the total norm before clipping (a float32 scalar tensor; inf or nan when a gradient is).
// Parameters without a gradient are ignored; with none at all it returns 0.
at::Tensor clip_grad_norm(const std::vector<at::Tensor>& params, double max_norm);

// The global L2 norm alone, without clipping.
at::Tensor grad_norm(const std::vector<at::Tensor>& params);

}  // namespace tailor::train
