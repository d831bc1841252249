// Chunked linear + cross-entropy: fused vs reference (float32, bfloat16, odd sizes, ignored tokens,
// chunks that do not divide the tokens), float64 gradient check, and the ignore/mean semantics.
#include "kernels/linear_cross_entropy.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <cmath>

#include "tests/kernels/op_check.h"
#include "tests/support/cuda.h"

namespace tailor::kernels {
namespace {

testing::OpFn lce_op(int64_t chunk) {
  return [=](const std::vector<at::Tensor>& in, KernelMode mode) {
    return std::vector<at::Tensor>{linear_cross_entropy(in[0], in[1], in[2], mode, {-100, chunk})};
  };
}

at::Tensor labels_with_ignored(std::vector<int64_t> shape, int64_t vocab) {
  auto labels = at::randint(vocab, shape, at::kLong);
  return at::where(at::rand(shape) < 0.2, at::full({}, -100, at::kLong), labels);
}

void check_device(at::Device device) {
  at::manual_seed(5);
  struct Case {
    std::vector<int64_t> tokens;
    int64_t hidden, vocab, chunk;
  };
  for (bool weight_grad : {true, false})  // a frozen weight (LoRA's lm_head) takes the hidden gradient in forward
    for (auto dtype : {at::kFloat, at::kBFloat16})
      for (const auto& c : {Case{{2, 13}, 24, 1000, 7}, Case{{37}, 65, 517, 0}, Case{{1, 5}, 8, 33, 64}}) {
        auto shape = c.tokens;
        shape.push_back(c.hidden);
        auto h = at::randn(shape, at::kDouble), w = at::randn({c.vocab, c.hidden}, at::kDouble) * 0.3;
        testing::expect_fused_matches_reference(lce_op(c.chunk), {h, w, labels_with_ignored(c.tokens, c.vocab)},
                                                {true, weight_grad, false}, dtype, device,
                                                "linear_cross_entropy " + std::string(c10::toString(dtype)) + " V=" +
                                                    std::to_string(c.vocab) + " chunk=" + std::to_string(c.chunk) +
                                                    (weight_grad ? "" : " frozen weight"));
      }
}

TEST(LinearCrossEntropy, FusedMatchesReferenceCpu) { check_device(at::kCPU); }

TEST(LinearCrossEntropy, FusedMatchesReferenceCuda) {
  TAILOR_REQUIRE_CUDA();
  check_device(at::kCUDA);
}

TEST(LinearCrossEntropy, Gradcheck) {
  at::manual_seed(6);
  auto labels = at::tensor({3, -100, 0, 6, 6}, at::kLong);
  for (auto mode : {KernelMode::fused, KernelMode::reference})
    for (bool weight_grad : {true, false})
      testing::expect_gradcheck(lce_op(2), {at::randn({5, 4}), at::randn({7, 4}), labels}, {true, weight_grad, false},
                                mode, "linear_cross_entropy " + to_string(mode) + (weight_grad ? "" : " frozen weight"));
}

TEST(LinearCrossEntropy, MeanOverCountedTokensAndNanWhenNone) {
  auto h = at::randn({4, 3}), w = at::randn({5, 3});
  auto labels = at::tensor({1, -100, 4, -100}, at::kLong);
  auto logits = at::mm(h, w.t());
  auto lse = logits.logsumexp(1);
  const double want = ((lse[0] - logits[0][1]) + (lse[2] - logits[2][4])).item<double>() / 2;
  EXPECT_NEAR(linear_cross_entropy(h, w, labels, KernelMode::fused).item<double>(), want, 1e-5);
  auto none = at::full({4}, -100, at::kLong);
  EXPECT_TRUE(std::isnan(linear_cross_entropy(h, w, none, KernelMode::fused).item<double>()));
  EXPECT_TRUE(std::isnan(linear_cross_entropy(h, w, none, KernelMode::reference).item<double>()));
}

TEST(LinearCrossEntropy, RejectsOutOfRangeLabels) {
  auto h = at::randn({2, 3}), w = at::randn({5, 3});
  EXPECT_THROW(linear_cross_entropy(h, w, at::tensor({1, 5}, at::kLong), KernelMode::fused), c10::Error);
}

}  // namespace
}  // namespace tailor::kernels
