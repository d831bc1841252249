#include "train/grad_clip.h"

#include <ATen/ATen.h>

namespace tailor::train {
namespace {

std::vector<at::Tensor> grads_of(const std::vector<at::Tensor>& params) {
  std::vector<at::Tensor> grads;
  for (const auto& p : params)
    if (p.grad().defined()) grads.push_back(p.grad());
  return grads;
}

at::Tensor total_norm(const std::vector<at::Tensor>& grads) {
  if (grads.empty()) return at::zeros({}, at::kFloat);
  std::vector<at::Tensor> norms;
  norms.reserve(grads.size());
  for (const auto& g : grads) norms.push_back(at::linalg_vector_norm(g, 2).to(grads.front().device()));
  return at::linalg_vector_norm(at::stack(norms), 2);
}

}  // namespace

at::Tensor grad_norm(const std::vector<at::Tensor>& params) {
  at::NoGradGuard no_grad;
  return total_norm(grads_of(params));
}

at::Tensor clip_grad_norm(const std::vector<at::Tensor>& params, double max_norm) {
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> grads = grads_of(params);
  at::Tensor norm = total_norm(grads);
  if (grads.empty()) return norm;
  at::Tensor clip_coef = max_norm / (norm + 1e-6);
  at::Tensor clamped = at::clamp(clip_coef, c10::nullopt, 1.0);
  for (auto& g : grads) g.mul_(clamped.to(g.device(), g.scalar_type()));
  return norm;
}

}  // namespace tailor::train
