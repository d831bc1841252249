// Gradient accumulation over N micro-batches, weighting each micro-batch's mean loss by its share of the
// window's target tokens, so N micro-batches give the gradient one big batch would (the rule
// transformers applies with num_items_in_batch). With equal token counts this is loss / N.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <vector>

namespace tailor::train {

class GradientAccumulation {
 public:
  // `tokens_per_micro_batch`: the target-token count of every micro-batch in the coming window.
  explicit GradientAccumulation(std::vector<int64_t> tokens_per_micro_batch) : tokens_(std::move(tokens_per_micro_batch)) {
    if (tokens_.empty()) throw std::invalid_argument("gradient accumulation needs at least one micro-batch");
    for (int64_t t : tokens_) total_ += t;
  }

  int64_t micro_batches() const { return static_cast<int64_t>(tokens_.size()); }
  // Factor for micro-batch i's token-mean loss before backward().
  double loss_weight(int64_t i) const {
    return total_ > 0 ? static_cast<double>(tokens_.at(i)) / static_cast<double>(total_) : 1.0 / micro_batches();
  }
  // Whether the optimizer steps after micro-batch i.
  bool is_last(int64_t i) const { return i + 1 == micro_batches(); }
  int64_t total_tokens() const { return total_; }

 private:
  std::vector<int64_t> tokens_;
  int64_t total_ = 0;
};

}  // namespace tailor::train
