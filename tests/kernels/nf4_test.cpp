// NF4: fused dequantization equals the LibTorch reference bit for bit, quantization error stays within
// half a code step, and a QLoRA base gives the LoRA linear the same result as its dense dequantization.
// Byte compatibility with bitsandbytes is test_nf4_bitsandbytes.py.
#include "kernels/nf4.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "kernels/lora_linear.h"
#include "tests/support/cuda.h"

namespace tailor::kernels {
namespace {

void check_dequantize(at::Device device) {
  at::manual_seed(11);
  for (bool double_quant : {true, false})
    for (auto shape : {std::vector<int64_t>{64, 96}, {7, 33}, {1, 1}, {300, 257}}) {
      auto w = at::randn(shape) * 0.02;
      auto q = nf4_quantize(w.to(device), 64, double_quant);
      for (auto dtype : {at::kFloat, at::kBFloat16}) {
        auto fused = nf4_dequantize(q, dtype, KernelMode::fused);
        auto reference = nf4_dequantize(q, dtype, KernelMode::reference);
        EXPECT_TRUE(at::equal(fused.cpu(), reference.cpu())) << c10::str(at::IntArrayRef(shape)) << " " << dtype;
      }
    }
}

TEST(Nf4, FusedDequantizeEqualsReferenceCpu) { check_dequantize(at::kCPU); }

TEST(Nf4, FusedDequantizeEqualsReferenceCuda) {
  TAILOR_REQUIRE_CUDA();
  check_dequantize(at::kCUDA);
}

TEST(Nf4, Layout) {
  auto q = nf4_quantize(at::randn({3, 43}), 64, true);
  EXPECT_EQ(q.packed.sizes(), (std::vector<int64_t>{65, 1}));  // ceil(129 / 2)
  EXPECT_EQ(q.absmax.scalar_type(), at::kByte);
  EXPECT_EQ(q.absmax.numel(), 3);  // ceil(129 / 64)
  EXPECT_EQ(q.nested_absmax.numel(), 1);
  EXPECT_EQ(dynamic_code().numel(), 256);
  // A known vector: block absmax 2, values land exactly on NF4 codes 0 (-1), 7 (0), 15 (1) and 8.
  auto exact = at::tensor({-2.f, 0.f, 2.f, 0.07958029955625534f * 2});
  auto e = nf4_quantize(exact, 64, false);
  EXPECT_EQ(e.packed[0][0].item<int>(), (0 << 4) | 7);
  EXPECT_EQ(e.packed[1][0].item<int>(), (15 << 4) | 8);
  EXPECT_TRUE(at::equal(nf4_dequantize(e, at::kFloat), exact));
}

TEST(Nf4, RoundTripWithinHalfACodeStep) {
  auto w = at::randn({128, 64});
  auto back = nf4_dequantize(nf4_quantize(w, 64, true), at::kFloat);
  // Per block: half the widest NF4 gap (0.3038, between -1 and -0.6962) times the true absmax, plus the
  // double-quantization error of the absmax itself (the block's element of largest magnitude maps to +-1,
  // so the dequantized block's max is the decoded absmax).
  auto absmax = w.view({-1, 64}).abs().amax(1, true);
  auto decoded = back.view({-1, 64}).abs().amax(1, true);
  auto bound = absmax * (0.3038 / 2) + (decoded - absmax).abs() + 1e-6;
  EXPECT_TRUE(((back - w).view({-1, 64}).abs() <= bound).all().item<bool>());
  EXPECT_LT(((decoded - absmax).abs() / absmax).max().item<double>(), 0.05);
}

TEST(Nf4, QloraBaseMatchesDenseDequantized) {
  at::manual_seed(12);
  auto w = std::make_shared<Nf4Weight>(nf4_quantize(at::randn({24, 40}) * 0.05, 64, true));
  auto dense = FrozenWeight::from_dense(nf4_dequantize(*w, at::kFloat));
  auto quantized = nf4_frozen_weight(w);
  auto x = at::randn({5, 40}), a = at::randn({4, 40}) * 0.1, b = at::randn({24, 4}) * 0.1;
  for (auto mode : {KernelMode::fused, KernelMode::reference}) {
    auto xq = x.clone().requires_grad_(true), xd = x.clone().requires_grad_(true);
    auto yq = lora_linear(xq, quantized, {}, a, b, {2.0, 0.0, true}, mode);
    auto yd = lora_linear(xd, dense, {}, a, b, {2.0, 0.0, true}, mode);
    EXPECT_TRUE(at::equal(yq, yd));
    yq.sum().backward();
    yd.sum().backward();
    EXPECT_TRUE(at::equal(xq.grad(), xd.grad()));
  }
}

}  // namespace
}  // namespace tailor::kernels
