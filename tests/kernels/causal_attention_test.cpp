// Causal attention: fused vs reference (float32, bfloat16; grouped, multi- and single-kv-head; sequence
// lengths that leave a partial block of queries), float64 gradient check across two blocks, and the fused
// op against SDPA's causal attention (what the decoder runs under `kernels: reference`).
#include "kernels/causal_attention.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <tuple>
#include <vector>

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

// first_key for packed rows: each token sees its document's keys up to itself; padding sees itself;
// window > 0 also limits each token to the last `window` keys.
at::Tensor packed_first_key(const std::vector<std::vector<int64_t>>& bounds, int64_t T, int64_t window = 0) {
  auto fk = at::arange(T, at::kLong).repeat({int64_t(bounds.size()), 1});
  auto a = fk.accessor<int64_t, 2>();
  for (size_t b = 0; b < bounds.size(); ++b)
    for (size_t d = 1; d < bounds[b].size(); ++d)
      for (int64_t t = bounds[b][d - 1]; t < bounds[b][d]; ++t)
        a[int64_t(b)][t] = window > 0 ? std::max(bounds[b][d - 1], t - window + 1) : bounds[b][d - 1];
  return fk;
}

testing::OpFn ranged_op(double scale) {
  return [=](const std::vector<at::Tensor>& in, KernelMode mode) {
    return std::vector<at::Tensor>{causal_attention(in[0], in[1], in[2], scale, mode, in[3])};
  };
}

TEST(CausalAttention, PackedDocumentsAndWindowsMatchReferenceCpu) {
  at::manual_seed(24);
  const std::vector<std::vector<int64_t>> bounds{{0, 50, 97, 130}, {0, 10, 120}};  // row 1: 10 padding tokens
  for (int64_t window : {0, 20})
    for (auto dtype : {at::kFloat, at::kBFloat16}) {
      auto qkv = random_qkv(2, 6, 2, 130, 16);
      qkv.push_back(packed_first_key(bounds, 130, window));
      testing::expect_fused_matches_reference(ranged_op(0.25), qkv, {true, true, true, false}, dtype, at::kCPU,
                                              "causal_attention packed " + std::string(c10::toString(dtype)) +
                                                  " window " + std::to_string(window));
    }
}

TEST(CausalAttention, PackedEqualsSdpaWithTheDocumentMaskInFloat64) {
  at::manual_seed(25);
  const int64_t T = 100;
  auto qkv = random_qkv(2, 4, 2, T, 8);
  auto fk = packed_first_key({{0, 30, 100}, {0, 64, 90}}, T);
  auto fused = causal_attention(qkv[0], qkv[1], qkv[2], 0.3, KernelMode::fused, fk);
  // The mask the decoder builds for packed rows: same document, causal, padding sees itself.
  auto docs = at::full({2, T}, -1, at::kLong);
  docs[0].narrow(0, 30, 70).fill_(1), docs[0].narrow(0, 0, 30).fill_(0);
  docs[1].narrow(0, 0, 64).fill_(0), docs[1].narrow(0, 64, 26).fill_(1);
  auto idx = at::arange(T, at::kLong);
  auto allowed = (idx.view({1, T}) <= idx.view({T, 1})).unsqueeze(0) & (docs.unsqueeze(2) == docs.unsqueeze(1)) &
                 (docs >= 0).unsqueeze(1);
  allowed = (allowed | at::eye(T, at::kBool).unsqueeze(0)).unsqueeze(1);
  auto sdpa = at::scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], allowed, 0.0, false, 0.3, /*enable_gqa=*/true);
  EXPECT_LT((fused - sdpa).abs().max().item<double>(), 1e-12);
  // The first token of a document sees only itself: its output is its own value vector.
  auto v30 = qkv[2][0].select(1, 30).repeat_interleave(2, 0);
  EXPECT_LT((fused[0].select(1, 30) - v30).abs().max().item<double>(), 1e-12);
  EXPECT_THROW(causal_attention(qkv[0], qkv[1], qkv[2], 0.3, KernelMode::fused, fk + 1), c10::Error);  // t sees t+1
}

TEST(CausalAttention, Gradcheck) {
  at::manual_seed(22);
  auto qkv = random_qkv(1, 2, 1, 70, 4);  // 70 queries: a full block of 64 and a partial one
  for (auto mode : {KernelMode::fused, KernelMode::reference})
    testing::expect_gradcheck(attention_op(0.5), qkv, {true, true, true}, mode, "causal_attention " + to_string(mode));
  qkv.push_back(packed_first_key({{0, 5, 66, 70}}, 70, 40));  // documents across the block edge, a window
  testing::expect_gradcheck(ranged_op(0.5), qkv, {true, true, true, false}, KernelMode::fused, "causal_attention packed");
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
