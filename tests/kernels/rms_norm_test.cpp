// RMSNorm: fused vs reference (float32, bfloat16; odd widths, Gemma's 1 + w), float64 gradient check.
#include "kernels/rms_norm.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "tests/kernels/op_check.h"
#include "tests/support/cuda.h"

namespace tailor::kernels {
namespace {

testing::OpFn rms_op(bool unit_offset) {
  return [=](const std::vector<at::Tensor>& in, KernelMode mode) {
    return std::vector<at::Tensor>{rms_norm(in[0], in[1], 1e-6, unit_offset, mode)};
  };
}

void check_device(at::Device device) {
  at::manual_seed(1);
  for (auto dtype : {at::kFloat, at::kBFloat16})
    for (bool unit_offset : {false, true})
      for (auto shape : {std::vector<int64_t>{3, 5, 67}, {1, 1024}, {17, 1}, {2, 4099}}) {
        auto x = at::randn(shape, at::kDouble) * 3;
        auto w = at::randn({shape.back()}, at::kDouble) * 0.5 + (unit_offset ? 0 : 1);
        testing::expect_fused_matches_reference(rms_op(unit_offset), {x, w}, {true, true}, dtype, device,
                                                "rms_norm " + std::string(c10::toString(dtype)) + " shape " +
                                                    c10::str(at::IntArrayRef(shape)) + (unit_offset ? " 1+w" : ""));
      }
}

TEST(RmsNorm, FusedMatchesReferenceCpu) { check_device(at::kCPU); }

TEST(RmsNorm, FusedMatchesReferenceCuda) {
  TAILOR_REQUIRE_CUDA();
  check_device(at::kCUDA);
}

TEST(RmsNorm, Gradcheck) {
  at::manual_seed(2);
  for (bool unit_offset : {false, true})
    for (auto mode : {KernelMode::fused, KernelMode::reference})
      testing::expect_gradcheck(rms_op(unit_offset), {at::randn({3, 11}), at::randn({11})}, {true, true}, mode,
                                "rms_norm " + to_string(mode));
}

TEST(RmsNorm, GemmaOffsetIsOnePlusWeight) {
  auto x = at::randn({4, 8});
  auto w = at::randn({8});
  auto plain = rms_norm(x, w + 1, 1e-6, false, KernelMode::fused);
  auto gemma = rms_norm(x, w, 1e-6, true, KernelMode::fused);
  EXPECT_TRUE(at::allclose(plain, gemma, 1e-6, 1e-6));
}

}  // namespace
}  // namespace tailor::kernels
