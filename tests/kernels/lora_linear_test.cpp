// LoRA linear: fused vs reference (float32, bfloat16, odd sizes, with and without bias, dense and
// dequantize-into bases), float64 gradient check including dropout (mask regenerated in backward).
#include "kernels/lora_linear.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>

#include <array>
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

// float32 adapters on a bfloat16 model (train.dtype: bfloat16). The fused op computes the low-rank path in
// bfloat16 as autocast does; bound: within twice the error of an all-bfloat16 reference, in the output and in
// every gradient, with A's and B's gradients in float32 as the reference returns them.
TEST(LoraLinear, Float32AdaptersUnderBfloat16Input) {
  at::manual_seed(11);
  const int64_t n = 37, in = 64, out = 96, r = 16;
  auto round = [](const at::Tensor& t, at::ScalarType dtype) { return t.to(dtype).to(at::kDouble); };
  auto x = round(at::randn({n, in}, at::kDouble), at::kBFloat16);
  auto w = round(at::randn({out, in}, at::kDouble) / std::sqrt(double(in)), at::kBFloat16);
  auto a = round(at::randn({r, in}, at::kDouble) * 0.1, at::kFloat), b = round(at::randn({out, r}, at::kDouble) * 0.1, at::kFloat);
  auto upstream = round(at::randn({n, out}, at::kDouble), at::kBFloat16);
  auto run = [&](at::ScalarType input, at::ScalarType adapter, KernelMode mode) {
    auto xi = x.to(input).requires_grad_(true), ai = a.to(adapter).requires_grad_(true), bi = b.to(adapter).requires_grad_(true);
    auto y = lora_linear(xi, FrozenWeight::from_dense(w.to(input)), {}, ai, bi, {0.75, 0.0, true}, mode);
    auto g = torch::autograd::grad({(y.to(at::kDouble) * upstream).sum()}, {xi, ai, bi});
    return std::array<at::Tensor, 4>{y.detach(), g[0], g[1], g[2]};
  };
  auto exact = run(at::kDouble, at::kDouble, KernelMode::reference);
  auto fused = run(at::kBFloat16, at::kFloat, KernelMode::fused);
  auto peft = run(at::kBFloat16, at::kFloat, KernelMode::reference);
  auto autocast = run(at::kBFloat16, at::kBFloat16, KernelMode::reference);
  const char* names[] = {"output", "grad x", "grad A", "grad B"};
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(fused[i].scalar_type(), peft[i].scalar_type()) << names[i];
    const double err = testing::relative_error(fused[i], exact[i]), bound = testing::relative_error(autocast[i], exact[i]);
    EXPECT_LE(err, 2 * bound + std::ldexp(1.0, -22)) << names[i] << ": fused " << err << ", all-bfloat16 reference " << bound
                                                     << ", float32-adapter reference " << testing::relative_error(peft[i], exact[i]);
  }
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
