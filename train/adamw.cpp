#include "train/adamw.h"

#include <ATen/ATen.h>

#include <cmath>
#include <sstream>

#include "core/error.h"

namespace tailor::train {

AdamW::AdamW(std::vector<at::Tensor> params, std::vector<std::string> names, AdamWOptions options)
    : params_(std::move(params)), names_(std::move(names)), options_(options) {
  TORCH_CHECK(params_.size() == names_.size(), "AdamW: ", params_.size(), " parameters but ", names_.size(), " names");
  slots_.resize(params_.size());
}

void AdamW::step() {
  at::NoGradGuard no_grad;
  const double beta1 = options_.beta1, beta2 = options_.beta2, lr = options_.lr;
  for (size_t i = 0; i < params_.size(); ++i) {
    at::Tensor& param = params_[i];
    if (!param.grad().defined()) continue;
    Slot& s = slots_[i];
    const bool fp32 = param.scalar_type() == at::kFloat;
    at::Tensor p = fp32 ? param : param.to(at::kFloat);
    at::Tensor grad = param.grad().to(at::kFloat);
    if (!s.exp_avg.defined()) {
      s.exp_avg = at::zeros_like(p, at::MemoryFormat::Preserve);
      s.exp_avg_sq = at::zeros_like(p, at::MemoryFormat::Preserve);
    }
    // PyTorch keeps the step as a float32 tensor and reads it back as a Python float.
    s.step = static_cast<double>(static_cast<float>(s.step + 1));

    if (options_.weight_decay != 0) p.mul_(1 - lr * options_.weight_decay);
    s.exp_avg.lerp_(grad, 1 - beta1);
    s.exp_avg_sq.mul_(beta2).addcmul_(grad, grad, 1 - beta2);

    const double bias_correction1 = 1 - std::pow(beta1, s.step);
    const double bias_correction2 = 1 - std::pow(beta2, s.step);
    const double step_size = lr / bias_correction1;
    const double bias_correction2_sqrt = std::pow(bias_correction2, 0.5);
    at::Tensor denom = (s.exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(options_.eps);
    p.addcdiv_(s.exp_avg, denom, -step_size);
    if (!fp32) param.copy_(p);
  }
}

void AdamW::zero_grad() {
  for (auto& param : params_)
    if (param.grad().defined()) param.mutable_grad() = at::Tensor();
}

std::map<std::string, at::Tensor> AdamW::state_tensors() const {
  std::map<std::string, at::Tensor> out;
  for (size_t i = 0; i < params_.size(); ++i) {
    const Slot& s = slots_[i];
    if (!s.exp_avg.defined()) continue;
    out.emplace("exp_avg." + names_[i], s.exp_avg);
    out.emplace("exp_avg_sq." + names_[i], s.exp_avg_sq);
    out.emplace("step." + names_[i], at::scalar_tensor(s.step, at::kFloat));
  }
  return out;
}

void AdamW::load_state_tensors(const std::map<std::string, at::Tensor>& state) {
  std::vector<Slot> loaded(params_.size());
  for (size_t i = 0; i < params_.size(); ++i) {
    auto avg = state.find("exp_avg." + names_[i]);
    if (avg == state.end()) continue;  // never stepped before the checkpoint
    auto sq = state.find("exp_avg_sq." + names_[i]);
    auto st = state.find("step." + names_[i]);
    if (sq == state.end() || st == state.end())
      throw InputError("optimizer state for '" + names_[i] + "' is incomplete (exp_avg_sq or step missing)");
    if (!avg->second.sizes().equals(params_[i].sizes()) || !sq->second.sizes().equals(params_[i].sizes())) {
      std::ostringstream msg;
      msg << "optimizer state for '" << names_[i] << "': shape " << avg->second.sizes() << ", expected "
          << params_[i].sizes();
      throw InputError(msg.str());
    }
    loaded[i].exp_avg = avg->second.to(params_[i].device(), at::kFloat).clone();
    loaded[i].exp_avg_sq = sq->second.to(params_[i].device(), at::kFloat).clone();
    loaded[i].step = st->second.item<double>();
  }
  slots_ = std::move(loaded);
}

}  // namespace tailor::train
