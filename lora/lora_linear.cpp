#include "lora/lora_linear.h"

#include <ATen/ATen.h>
#include <torch/nn/init.h>

#include <cmath>
#include <sstream>
#include <stdexcept>

#include "core/error.h"
#include "kernels/lora_linear.h"
#include "lora/frozen_linear.h"

namespace tailor::lora {
namespace {

std::string shape_string(at::IntArrayRef shape) {
  std::ostringstream out;
  out << shape;
  return out.str();
}

void check_rank(const LoraOptions& options, int64_t in, int64_t out) {
  if (options.r <= 0) throw InputError("LoRA rank r must be positive, got " + std::to_string(options.r));
  if (options.dropout < 0.0 || options.dropout >= 1.0)
    throw InputError("lora_dropout must be in [0, 1), got " + std::to_string(options.dropout));
  if (in <= 0 || out <= 0) throw InputError("LoRA base linear has an empty shape");
}

}  // namespace

LoraLinearImpl::LoraLinearImpl(at::Tensor weight, std::optional<at::Tensor> bias, LoraOptions options)
    : options_(options) {
  TORCH_CHECK(weight.dim() == 2, "LoraLinear: base weight must be 2-D, got ", weight.sizes());
  out_features_ = weight.size(0);
  in_features_ = weight.size(1);
  check_rank(options_, in_features_, out_features_);
  weight_ = register_buffer("weight", weight.detach());
  if (bias) bias_ = register_buffer("bias", bias->detach());
  auto dtype = at::isFloatingType(weight.scalar_type()) ? weight.scalar_type() : at::kFloat;
  create_adapter(weight.options().dtype(dtype));
  initialize();
}

LoraLinearImpl::LoraLinearImpl(std::shared_ptr<QuantizedWeight> weight, std::optional<at::Tensor> bias,
                               LoraOptions options)
    : options_(options), quantized_(std::move(weight)) {
  TORCH_CHECK(quantized_, "LoraLinear: null quantized base weight");
  out_features_ = quantized_->out_features();
  in_features_ = quantized_->in_features();
  check_rank(options_, in_features_, out_features_);
  if (bias) bias_ = register_buffer("bias", bias->detach());
  if (options_.init == LoraInit::kPissa)
    throw InputError("PiSSA initialisation needs a dense base weight, not a " + quantized_->format() + " one");
  create_adapter(at::TensorOptions().dtype(at::kFloat).device(quantized_->device()));
  initialize();
}

void LoraLinearImpl::create_adapter(at::TensorOptions options) {
  lora_A = register_module("lora_A", torch::nn::Linear(torch::nn::LinearOptions(in_features_, options_.r).bias(false)));
  lora_B = register_module("lora_B", torch::nn::Linear(torch::nn::LinearOptions(options_.r, out_features_).bias(false)));
  lora_A->to(options.device(), options.dtype().toScalarType());
  lora_B->to(options.device(), options.dtype().toScalarType());
  if (options_.use_dora)
    lora_magnitude_vector = register_parameter("lora_magnitude_vector", at::ones({out_features_}, options));
}

void LoraLinearImpl::initialize() {
  at::NoGradGuard no_grad;
  at::Tensor A = lora_A->weight, B = lora_B->weight;
  switch (options_.init) {
    case LoraInit::kDefault:
      torch::nn::init::kaiming_uniform_(A, std::sqrt(5.0));
      B.zero_();
      break;
    case LoraInit::kGaussian:
      A.normal_(0.0, 1.0 / static_cast<double>(options_.r));
      B.zero_();
      break;
    case LoraInit::kPissa: {
      // W = U S Vᵀ; A = sqrt(S_r/scaling) V_rᵀ, B = U_r sqrt(S_r/scaling); the base keeps W − scaling·BA.
      at::Tensor W = weight_.to(at::kFloat);
      auto [U, S, Vh] = at::linalg_svd(W, /*full_matrices=*/false);
      at::Tensor Ur = U.slice(1, 0, options_.r);
      at::Tensor Sr = S.slice(0, 0, options_.r) / options_.scaling();
      at::Tensor Vhr = Vh.slice(0, 0, options_.r);
      at::Tensor root = at::diag(at::sqrt(Sr));
      at::Tensor newA = at::matmul(root, Vhr), newB = at::matmul(Ur, root);
      A.copy_(newA);
      B.copy_(newB);
      weight_.copy_((W - options_.scaling() * at::matmul(newB, newA)).to(weight_.scalar_type()));
      break;
    }
    case LoraInit::kNone:
      break;
  }
  if (options_.use_dora) reset_dora_magnitude();
}

at::Tensor LoraLinearImpl::base_weight(at::ScalarType dtype) const {
  if (weight_.defined()) return weight_.to(dtype);
  return quantized_->dequantize(dtype);
}

at::Tensor LoraLinearImpl::delta_weight() const {
  return at::matmul(lora_B->weight, lora_A->weight) * options_.scaling();
}

at::Tensor LoraLinearImpl::dora_weight_norm(at::ScalarType dtype) const {
  // PEFT get_weight_norm: row norms of W + scaling·BA, the LoRA part detached.
  at::NoGradGuard no_grad;
  at::Tensor lora_weight = at::matmul(lora_B->weight, lora_A->weight).to(dtype);
  at::Tensor W = base_weight(dtype) + options_.scaling() * lora_weight;
  return at::linalg_vector_norm(W, 2, {1}).to(dtype);
}

void LoraLinearImpl::reset_dora_magnitude() {
  at::NoGradGuard no_grad;
  lora_magnitude_vector.copy_(dora_weight_norm(lora_magnitude_vector.scalar_type()));
}

at::Tensor LoraLinearImpl::base_forward(const at::Tensor& x) const {
  at::Tensor y = weight_.defined() ? at::linear(x, weight_.to(x.scalar_type())) : frozen_quantized_linear(x, *quantized_);
  if (bias_.defined()) y = y + bias_.to(y.scalar_type());
  return y;
}

at::Tensor LoraLinearImpl::lora_forward(const at::Tensor& x) {
  at::Tensor h = lora_B->forward(lora_A->forward(x.to(lora_A->weight.scalar_type())));
  return h.to(x.scalar_type());
}

at::Tensor LoraLinearImpl::forward(const at::Tensor& x) {
  const auto lora_dtype = lora_A->weight.scalar_type();
  if (kernel_mode_ == kernels::KernelMode::fused && !merged_ && !options_.use_dora &&
      (lora_dtype == x.scalar_type() || (lora_dtype == at::kFloat && x.scalar_type() == at::kBFloat16))) {
    kernels::FrozenWeight base =
        weight_.defined() ? kernels::FrozenWeight::from_dense(weight_)
                          : kernels::FrozenWeight::from_dequantizer(out_features_, in_features_,
                                                                    [q = quantized_](at::Tensor& into) { q->dequantize_into(into); });
    kernels::LoraLinearArgs args{options_.scaling(), options_.dropout, is_training()};
    return kernels::lora_linear(x, base, bias_, lora_A->weight, lora_B->weight, args, kernels::KernelMode::fused);
  }
  at::Tensor result = base_forward(x);
  if (merged_) return result;
  const bool dropping = options_.dropout > 0.0 && is_training();
  at::Tensor xd = dropping ? at::dropout(x, options_.dropout, /*train=*/true) : x;
  if (!options_.use_dora) return result + lora_forward(xd) * options_.scaling();

  // PEFT DoraLinearVariant.forward: reuse W x (minus bias) unless dropout changed x.
  at::Tensor base_result;
  if (dropping) {
    base_result = weight_.defined() ? at::linear(xd, weight_.to(x.scalar_type())) : frozen_quantized_linear(xd, *quantized_);
  } else {
    base_result = bias_.defined() ? result - bias_.to(result.scalar_type()) : result;
  }
  at::Tensor weight_norm = dora_weight_norm(x.scalar_type()).detach();
  at::Tensor mag_norm_scale = (lora_magnitude_vector / weight_norm).view({1, -1});
  at::Tensor result_dora = (mag_norm_scale - 1) * base_result + mag_norm_scale * lora_forward(xd) * options_.scaling();
  return result + result_dora;
}

void LoraLinearImpl::merge() {
  if (merged_) return;
  at::NoGradGuard no_grad;
  at::ScalarType dtype = weight_.defined() ? weight_.scalar_type() : lora_A->weight.scalar_type();
  at::Tensor base = base_weight(at::kFloat);
  at::Tensor delta = delta_weight().to(at::kFloat);
  at::Tensor merged = base + delta;
  if (options_.use_dora) {
    // PEFT merges DoRA as (m/‖W + ΔW‖)·(W + ΔW) and keeps that norm to undo it exactly.
    dora_norm_at_merge_ = at::linalg_vector_norm(merged, 2, {1}).detach();
    merged = (lora_magnitude_vector.to(at::kFloat) / dora_norm_at_merge_).view({-1, 1}) * merged;
  }
  if (quantized_) {
    // Kept unregistered: the module's state stays the quantized base plus the adapter.
    quantized_before_merge_ = std::move(quantized_);
    weight_ = merged.to(dtype);
  } else {
    weight_.copy_(merged.to(dtype));
  }
  merged_ = true;
}

void LoraLinearImpl::unmerge() {
  if (!merged_) return;
  at::NoGradGuard no_grad;
  if (quantized_before_merge_) {
    quantized_ = std::move(quantized_before_merge_);
    weight_ = at::Tensor();
  } else {
    at::Tensor merged = weight_.to(at::kFloat);
    if (options_.use_dora) merged = merged / (lora_magnitude_vector.to(at::kFloat) / dora_norm_at_merge_).view({-1, 1});
    weight_.copy_((merged - delta_weight().to(at::kFloat)).to(weight_.scalar_type()));
  }
  merged_ = false;
}

std::vector<std::pair<std::string, at::Tensor>> LoraLinearImpl::adapter_tensors() const {
  std::vector<std::pair<std::string, at::Tensor>> out{{"lora_A.weight", lora_A->weight}, {"lora_B.weight", lora_B->weight}};
  if (options_.use_dora) out.emplace_back("lora_magnitude_vector", lora_magnitude_vector);
  return out;
}

void LoraLinearImpl::load_adapter_tensor(const std::string& suffix, const at::Tensor& value) {
  at::Tensor target;
  if (suffix == "lora_A.weight") target = lora_A->weight;
  else if (suffix == "lora_B.weight") target = lora_B->weight;
  else if (suffix == "lora_magnitude_vector" && options_.use_dora) target = lora_magnitude_vector;
  else throw InputError("adapter tensor '" + suffix + "' is not part of this LoRA layer" +
                        (suffix == "lora_magnitude_vector" ? " (the adapter uses DoRA but the config says use_dora=false)" : ""));
  if (!value.sizes().equals(target.sizes()))
    throw InputError("adapter tensor '" + suffix + "': shape " + shape_string(value.sizes()) + ", expected " +
                     shape_string(target.sizes()));
  at::NoGradGuard no_grad;
  target.copy_(value);
}

}  // namespace tailor::lora
