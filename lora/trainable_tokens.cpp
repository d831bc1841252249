#include "lora/trainable_tokens.h"

#include <ATen/ATen.h>

#include <string>

#include "core/error.h"

namespace tailor::lora {

TrainableTokensImpl::TrainableTokensImpl(const at::Tensor& base, std::vector<int64_t> token_indices)
    : token_indices_(std::move(token_indices)) {
  TORCH_CHECK(base.dim() == 2, "trainable tokens: the embedding must be 2-D, got ", base.sizes());
  for (int64_t id : token_indices_)
    if (id < 0 || id >= base.size(0))
      throw InputError("trainable_token_indices: token id " + std::to_string(id) + " is outside the vocabulary [0, " +
                       std::to_string(base.size(0)) + ")");
  index_ = register_buffer("token_indices", at::tensor(token_indices_, at::kLong).to(base.device()));
  original_rows_ = register_buffer("trainable_tokens_original", base.detach().index_select(0, index_).clone());
  trainable_tokens_delta = register_parameter("trainable_tokens_delta", original_rows_.clone());
}

at::Tensor TrainableTokensImpl::weight(const at::Tensor& base) const {
  return base.index_copy(0, index_, trainable_tokens_delta.to(base.scalar_type()));
}

void TrainableTokensImpl::merge_into(at::Tensor& base) const {
  at::NoGradGuard no_grad;
  base.index_copy_(0, index_, trainable_tokens_delta.to(base.scalar_type()));
}

void TrainableTokensImpl::unmerge_from(at::Tensor& base) const {
  at::NoGradGuard no_grad;
  base.index_copy_(0, index_, original_rows_.to(base.scalar_type()));
}

ModuleCopyImpl::ModuleCopyImpl(const at::Tensor& weight_in, const at::Tensor& bias_in) {
  weight = register_parameter("weight", weight_in.detach().clone());
  if (bias_in.defined()) bias = register_parameter("bias", bias_in.detach().clone());
}

}  // namespace tailor::lora
