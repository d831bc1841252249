#include "train/nonfinite.h"

#include <ATen/ATen.h>

namespace tailor::train {

bool grads_finite(const std::vector<at::Tensor>& params) {
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> flags;
  for (const auto& p : params)
    if (p.grad().defined()) flags.push_back(at::isfinite(p.grad()).all().to(at::kCPU));
  if (flags.empty()) return true;
  return at::stack(flags).all().item<bool>();
}

}  // namespace tailor::train
