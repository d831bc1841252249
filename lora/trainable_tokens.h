// PEFT's trainable_token_indices: only some rows of an embedding matrix train (e.g. newly added special
// tokens); the rest stay frozen. The effective weight is the base with those rows replaced, so with tied
// embeddings the lm_head uses the same weight() and shares the rows, as PEFT's tied token adapter does.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <vector>

namespace tailor::lora {

class TrainableTokensImpl : public torch::nn::Module {
 public:
  // `base` is the frozen [V, C] embedding; the rows at `token_indices` start from their base values.
  TrainableTokensImpl(const at::Tensor& base, std::vector<int64_t> token_indices);

  // base with the trainable rows written in; differentiable with respect to the rows only.
  at::Tensor weight(const at::Tensor& base) const;
  // Writes the trained rows into `base` in place (merge) or puts the original rows back (unmerge).
  void merge_into(at::Tensor& base) const;
  void unmerge_from(at::Tensor& base) const;

  const std::vector<int64_t>& token_indices() const { return token_indices_; }

  at::Tensor trainable_tokens_delta;  // [k, C], saved as "<path>.token_adapter.trainable_tokens_delta"

 private:
  std::vector<int64_t> token_indices_;
  at::Tensor index_, original_rows_;
};

TORCH_MODULE(TrainableTokens);

// PEFT's modules_to_save for a weight (and bias): a full trainable copy used instead of the frozen one,
// saved whole under the original module path ("base_model.model.lm_head.weight").
class ModuleCopyImpl : public torch::nn::Module {
 public:
  ModuleCopyImpl(const at::Tensor& weight, const at::Tensor& bias = {});
  at::Tensor weight, bias;
};

TORCH_MODULE(ModuleCopy);

}  // namespace tailor::lora
