// AdamW computing exactly what torch.optim.AdamW (single-tensor path, amsgrad=False, maximize=False)
// computes, op for op, so a run matches PyTorch's step by step. Moments are float32 whatever the
// parameter dtype; a non-float32 parameter is updated in float32 and rounded back.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace tailor::train {

struct AdamWOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.01;
};

class AdamW {
 public:
  // `names` label the parameters in saved state (e.g. the adapter's tensor names); same length as params.
  AdamW(std::vector<at::Tensor> params, std::vector<std::string> names, AdamWOptions options);

  // One update from each parameter's .grad(); parameters without a gradient are skipped (and their step
  // count does not advance), as in PyTorch.
  void step();
  void zero_grad();  // drops the gradients (PyTorch's set_to_none=True)

  void set_lr(double lr) { options_.lr = lr; }
  double lr() const { return options_.lr; }
  const AdamWOptions& options() const { return options_; }
  const std::vector<at::Tensor>& params() const { return params_; }

  // "exp_avg.<name>", "exp_avg_sq.<name>", "step.<name>" (float32 scalar, like PyTorch's state["step"]).
  std::map<std::string, at::Tensor> state_tensors() const;
  // Restores what state_tensors() gave; InputError naming the tensor on a missing name or wrong shape.
  void load_state_tensors(const std::map<std::string, at::Tensor>& state);

 private:
  struct Slot {
    at::Tensor exp_avg, exp_avg_sq;
    double step = 0;
  };
  std::vector<at::Tensor> params_;
  std::vector<std::string> names_;
  std::vector<Slot> slots_;
  AdamWOptions options_;
};

}  // namespace tailor::train
