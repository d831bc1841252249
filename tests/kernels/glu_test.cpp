// SwiGLU / GeGLU: fused vs reference (float32, bfloat16, odd sizes), float64 gradient check.
#include "kernels/glu.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "tests/kernels/op_check.h"
#include "tests/support/cuda.h"

namespace tailor::kernels {
namespace {

testing::OpFn glu_op(GluActivation act) {
  return [=](const std::vector<at::Tensor>& in, KernelMode mode) {
    return std::vector<at::Tensor>{glu(in[0], in[1], act, mode)};
  };
}

void check_device(at::Device device) {
  at::manual_seed(3);
  for (auto dtype : {at::kFloat, at::kBFloat16})
    for (auto act : {GluActivation::silu, GluActivation::gelu_tanh})
      for (auto shape : {std::vector<int64_t>{3, 7, 37}, {1}, {5, 1031}, {65537}}) {
        auto gate = at::randn(shape, at::kDouble) * 3, up = at::randn(shape, at::kDouble);
        testing::expect_fused_matches_reference(glu_op(act), {gate, up}, {true, true}, dtype, device,
                                                std::string(act == GluActivation::silu ? "swiglu " : "geglu ") +
                                                    c10::toString(dtype) + " " + c10::str(at::IntArrayRef(shape)));
      }
}

TEST(Glu, FusedMatchesReferenceCpu) { check_device(at::kCPU); }

TEST(Glu, FusedMatchesReferenceCuda) {
  TAILOR_REQUIRE_CUDA();
  check_device(at::kCUDA);
}

TEST(Glu, Gradcheck) {
  at::manual_seed(4);
  for (auto act : {GluActivation::silu, GluActivation::gelu_tanh})
    for (auto mode : {KernelMode::fused, KernelMode::reference})
      testing::expect_gradcheck(glu_op(act), {at::randn({3, 13}) * 2, at::randn({3, 13})}, {true, true}, mode,
                                "glu " + to_string(mode));
}

}  // namespace
}  // namespace tailor::kernels
