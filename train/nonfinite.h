// A step whose loss or gradient is not finite is skipped, not applied; this counts them and says when
// too many in a row mean the run should stop (leaving the last good checkpoint intact).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace tailor::train {

// True when every defined gradient of `params` is finite (one device sync).
bool grads_finite(const std::vector<at::Tensor>& params);

class NonFiniteGuard {
 public:
  explicit NonFiniteGuard(int64_t max_consecutive) : max_consecutive_(max_consecutive) {}

  // Records a step's outcome; returns true when the step may be applied.
  bool record(bool finite) {
    if (finite) {
      consecutive_ = 0;
      return true;
    }
    ++skipped_;
    ++consecutive_;
    return false;
  }
  bool should_stop() const { return consecutive_ >= max_consecutive_; }
  int64_t skipped() const { return skipped_; }
  int64_t consecutive() const { return consecutive_; }

 private:
  int64_t max_consecutive_;
  int64_t skipped_ = 0, consecutive_ = 0;
};

}  // namespace tailor::train
