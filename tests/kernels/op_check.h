// Shared checks for the fused-op tests.
//
// Derived tolerance: every op is also computed in float64 ("exact") from the same (already rounded)
// inputs; the fused result's relative error against exact must be at most twice the reference's error in
// the same precision, plus a tiny epsilon (four float32 unit roundoffs, 2^-22) for outputs of a handful of
// elements where the reference happens to round luckily. Gradients get the same treatment through a random upstream gradient.
#pragma once

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "kernels/kernel_mode.h"

namespace tailor::kernels::testing {

// Runs one op under a mode; returns its differentiable outputs.
using OpFn = std::function<std::vector<at::Tensor>(const std::vector<at::Tensor>&, KernelMode)>;

struct OpRun {
  std::vector<at::Tensor> outputs;
  std::vector<at::Tensor> grads;  // one per input; undefined where not differentiable
};

// Casts floating inputs to dtype on device, runs f, backpropagates sum(out_i * upstream_i).
OpRun run_op(const OpFn& f, const std::vector<at::Tensor>& inputs, const std::vector<bool>& differentiable,
             at::ScalarType dtype, at::Device device, KernelMode mode, const std::vector<at::Tensor>& upstream);

// ||got - want|| / ||want|| in float64.
double relative_error(const at::Tensor& got, const at::Tensor& want);

// Fused vs reference against float64, forward and backward, with the derived tolerance above.
void expect_fused_matches_reference(const OpFn& f, const std::vector<at::Tensor>& inputs,
                                    const std::vector<bool>& differentiable, at::ScalarType dtype, at::Device device,
                                    const std::string& what);

// Central finite differences in float64 against the op's analytic gradient (C++ has no gradcheck).
void expect_gradcheck(const OpFn& f, const std::vector<at::Tensor>& inputs, const std::vector<bool>& differentiable,
                      KernelMode mode, const std::string& what);

}  // namespace tailor::kernels::testing
