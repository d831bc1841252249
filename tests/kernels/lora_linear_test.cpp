// LoRA linear: fused vs reference (float32, bfloat16, odd sizes, with and without bias, dense and
// dequantize-into bases), float64 gradient check including dropout (mask regenerated in backward).
#include "kernels/lora_linear.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <cmath>

#include "tests/kernels/op_check.h"
#include "tests/support/cuda.h"

namespace tailor::kernels {
namespace {

// Inputs: x, W (frozen), A, B, bias (frozen; may be empty).
testing::OpFn lora_op(bool through_dequantizer, double dropout = 0.0) {
  return [=](const std::vector<at::Tensor>& in, KernelMode mode) {
    const at::Tensor& w = in[1];
    FrozenWeight base = through_dequantizer
                            ? FrozenWeight::from_dequantizer(w.size(0), w.size(1), [w](at::Tensor& into) { into.copy_(w); })
                            : FrozenWeight::from_dense(w);
    at::Tensor bias = in[4].numel() ? in[4] : at::Tensor();
    if (dropout > 0) at::manual_seed(1234);  // the same mask on every evaluation of the gradient check
    LoraLinearArgs args{0.75, dropout, true};
    return std::vector<at::Tensor>{lora_linear(in[0], base, bias, in[2], in[3], args, mode)};
  };
}

void check_device(at::Device device) {
  at::manual_seed(9);
  for (auto dtype : {at::kFloat, at::kBFloat16})
    for (bool dequantizer : {false, true})
      for (auto [in, out, r, with_bias] : {std::tuple<int64_t, int64_t, int64_t, bool>{33, 17, 4, true}, {64, 96, 16, false}}) {
        auto x = at::randn({3, 7, in}, at::kDouble), w = at::randn({out, in}, at::kDouble) / std::sqrt(double(in));
        auto a = at::randn({r, in}, at::kDouble) * 0.1, b = at::randn({out, r}, at::kDouble) * 0.1;
        auto bias = with_bias ? at::randn({out}, at::kDouble) : at::empty({0}, at::kDouble);
        testing::expect_fused_matches_reference(lora_op(dequantizer), {x, w, a, b, bias}, {true, false, true, true, false},
                                                dtype, device,
                                                "lora_linear " + std::string(c10::toString(dtype)) +
                                                    (dequantizer ? " dequantizer" : " dense") + " in " + std::to_string(in));
      }
}

TEST(LoraLinear, FusedMatchesReferenceCpu) { check_device(at::kCPU); }

TEST(LoraLinear, FusedMatchesReferenceCuda) {
  TAILOR_REQUIRE_CUDA();
  check_device(at::kCUDA);
}

TEST(LoraLinear, Gradcheck) {
  at::manual_seed(10);
  auto x = at::randn({2, 3, 5}), w = at::randn({4, 5}), a = at::randn({2, 5}), b = at::randn({4, 2}), bias = at::randn({4});
  for (auto mode : {KernelMode::fused, KernelMode::reference})
    testing::expect_gradcheck(lora_op(true), {x, w, a, b, bias}, {true, false, true, true, false}, mode,
                              "lora_linear " + to_string(mode));
  testing::expect_gradcheck(lora_op(false, 0.4), {x, w, a, b, bias}, {true, false, true, true, false}, KernelMode::fused,
                            "lora_linear fused with dropout");
}

TEST(LoraLinear, DropoutOnlyWhileTraining) {
  auto x = at::randn({4, 6}), w = at::randn({3, 6}), a = at::randn({2, 6}), b = at::randn({3, 2});
  auto base = FrozenWeight::from_dense(w);
  auto eval = lora_linear(x, base, {}, a, b, {1.0, 0.9, false}, KernelMode::fused);
  auto plain = lora_linear(x, base, {}, a, b, {1.0, 0.0, true}, KernelMode::fused);
  EXPECT_TRUE(at::allclose(eval, plain));
  auto train = lora_linear(x, base, {}, a, b, {1.0, 0.9, true}, KernelMode::fused);
  EXPECT_FALSE(at::allclose(train, plain));
  // Dropout touches only the low-rank path: with B = 0 the output is the base output.
  auto zero_b = lora_linear(x, base, {}, a, at::zeros_like(b), {1.0, 0.9, true}, KernelMode::fused);
  EXPECT_TRUE(at::allclose(zero_b, at::mm(x, w.t()), 1e-5, 1e-6));
}

}  // namespace
}  // namespace tailor::kernels
