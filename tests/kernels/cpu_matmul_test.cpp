// float32 products through oneDNN: as accurate as LibTorch's at::mm (measured against float64), for
// contiguous and transposed operands, with and without bias, and batched.
#include "kernels/cpu_matmul.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>

#include "tests/kernels/op_check.h"

namespace tailor::kernels {
namespace {

TEST(CpuMatmul, OneDnnIsAvailableInThisLibTorch) {
  // The pinned torch wheel registers mkldnn::_linear_pointwise; without it the speed-up silently vanishes.
  EXPECT_TRUE(onednn_float32_linear_available());
}

TEST(CpuMatmul, LinearNtAsAccurateAsMm) {
  at::manual_seed(31);
  for (auto [n, in, out] : {std::tuple<int64_t, int64_t, int64_t>{2048, 576, 1536}, {37, 33, 17}, {5, 1536, 16}})
    for (bool transposed : {false, true})
      for (bool with_bias : {false, true}) {
        auto x = at::randn({n, in}), bias = with_bias ? at::randn({out}) : at::Tensor();
        auto w = transposed ? at::randn({in, out}).t() : at::randn({out, in});  // a [out, in] view either way
        auto exact = at::mm(x.to(at::kDouble), w.to(at::kDouble).t());
        if (with_bias) exact = exact + bias.to(at::kDouble);
        auto mm = with_bias ? at::addmm(bias, x, w.t()) : at::mm(x, w.t());
        auto got = linear_nt(x, w, bias);
        ASSERT_EQ(got.sizes(), mm.sizes());
        const double err = testing::relative_error(got, exact), bound = testing::relative_error(mm, exact);
        EXPECT_LE(err, 2 * bound + std::ldexp(1.0, -22))
            << n << "x" << in << "x" << out << (transposed ? " transposed" : "") << (with_bias ? " bias" : "")
            << ": oneDNN " << err << ", at::mm " << bound;
      }
}

TEST(CpuMatmul, BatchedNtMatchesBmm) {
  at::manual_seed(32);
  auto a = at::randn({6, 70, 64}), b = at::randn({6, 130, 64}).transpose(1, 2).contiguous().transpose(1, 2);
  auto exact = at::bmm(a.to(at::kDouble), b.to(at::kDouble).transpose(1, 2));
  auto got = batched_nt(a, b), bmm = at::bmm(a, b.transpose(1, 2));
  EXPECT_LE(testing::relative_error(got, exact), 2 * testing::relative_error(bmm, exact) + std::ldexp(1.0, -22));
  auto bf16 = batched_nt(a.to(at::kBFloat16), b.to(at::kBFloat16));  // other dtypes: at::bmm
  EXPECT_EQ(bf16.scalar_type(), at::kBFloat16);
  EXPECT_LT(testing::relative_error(bf16, exact), 1e-2);
}

}  // namespace
}  // namespace tailor::kernels
