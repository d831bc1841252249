// CUDA smoke test: the hand-written kernel against the LibTorch reference, on sizes that exercise
// the grid-stride loop's tail and a grid larger than the launch cap.
#include "kernels/scale_add.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "tests/support/cuda.h"

TEST(ScaleAddCuda, MatchesReference) {
  TAILOR_REQUIRE_CUDA();
  for (int64_t n : {1, 255, 257, 1 << 20, 65535 * 256 + 17}) {
    auto x = at::randn({n}, at::device(at::kCUDA));
    auto y = at::randn({n}, at::device(at::kCUDA));
    auto got = tailor::kernels::scale_add(x, y, -0.75);
    auto want = tailor::kernels::scale_add_reference(x, y, -0.75);
    // nvcc contracts y + a*x into one FMA (one rounding), the reference rounds twice: at most 1 ulp apart.
    EXPECT_TRUE(at::allclose(got, want, 1.2e-7, 1e-7)) << "n=" << n;
  }
}

TEST(ScaleAdd, CpuUsesReference) {
  auto x = at::arange(5, at::kFloat), y = at::ones({5});
  auto got = tailor::kernels::scale_add(x, y, 2.0);
  EXPECT_TRUE(at::equal(got, at::tensor({1.f, 3.f, 5.f, 7.f, 9.f})));
}
