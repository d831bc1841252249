// Causal attention: fused vs reference (float32, bfloat16; grouped, multi- and single-kv-head; sequence
// lengths that leave a partial block of queries), float64 gradient check across two blocks, and the fused
// op against SDPA's causal attention (what the decoder runs under `kernels: reference`).
#include "kernels/causal_attention.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <tuple>

#include "tests/kernels/op_check.h"

namespace tailor::kernels {
namespace {

testing::OpFn attention_op(double scale) {
  return [=](const std::vector<at::Tensor>& in, KernelMode mode) {
    return std::vector<at::Tensor>{causal_attention(in[0], in[1], in[2], scale, mode)};
  };
}

std::vector<at::Tensor> random_qkv(int64_t B, int64_t H, int64_t KV, int64_t T, int64_t D) {
  return {at::randn({B, H, T, D}, at::kDouble), at::randn({B, KV, T, D}, at::kDouble), at::randn({B, KV, T, D}, at::kDouble)};
}

TEST(CausalAttention, FusedMatchesReferenceCpu) {
  at::manual_seed(21);
  for (auto dtype : {at::kFloat, at::kBFloat16})
    for (auto [B, H, KV, T, D] : {std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t>{2, 6, 2, 37, 16},
                                  {1, 4, 4, 130, 32}, {2, 3, 1, 64, 8}}) {
      auto qkv = random_qkv(B, H, KV, T, D);
      testing::expect_fused_matches_reference(attention_op(1.0 / std::sqrt(double(D))), qkv, {true, true, true}, dtype,
                                              at::kCPU,
                                              "causal_attention " + std::string(c10::toString(dtype)) + " H " +
                                                  std::to_string(H) + " KV " + std::to_string(KV) + " T " + std::to_string(T));
    }
}

TEST(CausalAttention, Gradcheck) {
  at::manual_seed(22);
  auto qkv = random_qkv(1, 2, 1, 70, 4);  // 70 queries: a full block of 64 and a partial one
  for (auto mode : {KernelMode::fused, KernelMode::reference})
    testing::expect_gradcheck(attention_op(0.5), qkv, {true, true, true}, mode, "causal_attention " + to_string(mode));
}

TEST(CausalAttention, FusedEqualsSdpaCausalInFloat64) {
  at::manual_seed(23);
  auto qkv = random_qkv(2, 6, 3, 100, 16);
  auto fused = causal_attention(qkv[0], qkv[1], qkv[2], 0.3, KernelMode::fused);
  auto sdpa = at::scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], std::nullopt, 0.0, true, 0.3, /*enable_gqa=*/true);
  EXPECT_LT((fused - sdpa).abs().max().item<double>(), 1e-12);
  // A broken mask would let queries see later keys: the first query's output must be v at key 0.
  auto first = fused.select(2, 0), v0 = qkv[2].select(2, 0).repeat_interleave(2, 1);
  EXPECT_LT((first - v0).abs().max().item<double>(), 1e-12);
}

}  // namespace
}  // namespace tailor::kernels
