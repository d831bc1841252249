// RoPE: fused vs reference (float32, bfloat16, partial rotary dims, packed positions that restart per
// document, GQA head counts), float64 gradient check, and the frequency tables' defining properties.
#include "kernels/rope.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>

#include "tests/kernels/op_check.h"
#include "tests/support/cuda.h"

namespace tailor::kernels {
namespace {

testing::OpFn rope_op(RopeTables tables, at::Tensor positions) {
  return [=](const std::vector<at::Tensor>& in, KernelMode mode) {
    auto t = RopeTables{tables.cos.to(in[0].device()), tables.sin.to(in[0].device())};
    auto [q, k] = apply_rope(in[0], in[1], t, positions.to(in[0].device()), mode);
    return std::vector<at::Tensor>{q, k};
  };
}

// Two packed documents of 7 and 6 tokens: positions restart at 0.
at::Tensor packed_positions() {
  return at::cat({at::arange(7, at::kLong), at::arange(6, at::kLong)}).reshape({1, 13});
}

void check_device(at::Device device) {
  at::manual_seed(7);
  RopeScaling yarn;
  yarn.kind = RopeScaling::Kind::yarn;
  yarn.factor = 4;
  yarn.original_max_position_embeddings = 32;
  for (auto dtype : {at::kFloat, at::kBFloat16})
    for (auto [head_dim, rotary] : {std::pair<int64_t, int64_t>{64, 64}, {22, 14}, {6, 2}}) {
      auto tables = rope_tables(10000.0, rotary, 64, yarn);
      auto q = at::randn({1, 13, 5, head_dim}, at::kDouble), k = at::randn({1, 13, 1, head_dim}, at::kDouble);
      testing::expect_fused_matches_reference(rope_op(tables, packed_positions()), {q, k}, {true, true}, dtype, device,
                                              "rope " + std::string(c10::toString(dtype)) + " head_dim " +
                                                  std::to_string(head_dim) + " rotary " + std::to_string(rotary));
    }
}

TEST(Rope, FusedMatchesReferenceCpu) { check_device(at::kCPU); }

TEST(Rope, FusedMatchesReferenceCuda) {
  TAILOR_REQUIRE_CUDA();
  check_device(at::kCUDA);
}

TEST(Rope, Gradcheck) {
  at::manual_seed(8);
  auto tables = rope_tables(500.0, 6, 16, {});
  auto positions = at::tensor({3, 0, 1, 9}, at::kLong);
  for (auto mode : {KernelMode::fused, KernelMode::reference})
    testing::expect_gradcheck(rope_op(tables, positions), {at::randn({4, 2, 8}), at::randn({4, 1, 8})}, {true, true},
                              mode, "rope " + to_string(mode));
}

// The decoder's form: x [B, H, T, D] as a transposed view (as models/decoder.cpp passes q and k), cos/sin
// [B or 1, T, R] built as transformers does (cat(freqs, freqs) times an attention factor).
testing::OpFn rope_cos_sin_op() {
  return [](const std::vector<at::Tensor>& in, KernelMode mode) {
    return std::vector<at::Tensor>{apply_rope_cos_sin(in[0].transpose(1, 2), in[1], in[2], mode)};
  };
}

std::pair<at::Tensor, at::Tensor> hf_cos_sin(const at::Tensor& positions, int64_t rotary, double attention) {
  auto [inv_freq, unused] = rope_inverse_frequencies(10000.0, rotary, {});
  auto angles = positions.unsqueeze(-1).to(at::kFloat) * inv_freq;
  auto emb = at::cat({angles, angles}, -1);
  return {(emb.cos() * attention).to(at::kDouble), (emb.sin() * attention).to(at::kDouble)};
}

void check_cos_sin_device(at::Device device) {
  at::manual_seed(9);
  // Full rotary (llama), partial rotary (phi3's partial_rotary_factor, odd pair count), tables shared by
  // the batch (cos [1, T, R]) and per row (packed documents restarting positions).
  struct Case {
    int64_t batch, heads, head_dim, rotary, table_batch;
  };
  for (auto dtype : {at::kFloat, at::kBFloat16})
    for (Case c : {Case{2, 3, 64, 64, 2}, Case{1, 5, 96, 24, 1}, Case{3, 2, 22, 14, 1}, Case{2, 1, 6, 2, 2}}) {
      auto positions = c.table_batch == 1 ? at::arange(11, at::kLong).unsqueeze(0) : at::randint(0, 300, {c.batch, 11});
      auto [cos, sin] = hf_cos_sin(positions, c.rotary, 1.2);
      auto x = at::randn({c.batch, 11, c.heads, c.head_dim}, at::kDouble);
      testing::expect_fused_matches_reference(
          rope_cos_sin_op(), {x, cos, sin}, {true, false, false}, dtype, device,
          "rope cos/sin " + std::string(c10::toString(dtype)) + " head_dim " + std::to_string(c.head_dim) +
              " rotary " + std::to_string(c.rotary) + " table batch " + std::to_string(c.table_batch));
    }
}

TEST(Rope, CosSinFusedMatchesReferenceCpu) { check_cos_sin_device(at::kCPU); }

TEST(Rope, CosSinFusedMatchesReferenceCuda) {
  TAILOR_REQUIRE_CUDA();
  check_cos_sin_device(at::kCUDA);
}

// float32 on CPU: the fused loop forms the same two products and one sum as the reference, unfused.
TEST(Rope, CosSinFloat32IsBitIdenticalToReference) {
  at::manual_seed(10);
  auto [cos, sin] = hf_cos_sin(at::randint(0, 4096, {2, 9}), 32, 1.0);
  auto x = at::randn({2, 4, 9, 40}).transpose(1, 2).contiguous().transpose(1, 2);  // [B, H, T, D] view
  auto fused = apply_rope_cos_sin(x, cos.to(at::kFloat), sin.to(at::kFloat), KernelMode::fused);
  auto reference = apply_rope_cos_sin(x, cos.to(at::kFloat), sin.to(at::kFloat), KernelMode::reference);
  EXPECT_TRUE(at::equal(fused, reference)) << (fused - reference).abs().max().item<float>();
}

TEST(Rope, CosSinGradcheck) {
  at::manual_seed(11);
  auto [cos, sin] = hf_cos_sin(at::tensor({3, 0, 1, 9, 2, 5, 7, 1}, at::kLong).view({2, 4}), 6, 1.0);
  for (auto mode : {KernelMode::fused, KernelMode::reference})
    testing::expect_gradcheck(rope_cos_sin_op(), {at::randn({2, 4, 3, 8}), cos, sin}, {true, false, false}, mode,
                              "rope cos/sin " + to_string(mode));
}

TEST(Rope, PositionZeroIsIdentityAndRotationPreservesNorm) {
  auto tables = rope_tables(10000.0, 8, 8, {});
  auto q = at::randn({2, 3, 8}), k = at::randn({2, 1, 8});
  auto [q0, k0] = apply_rope(q, k, tables, at::zeros({2}, at::kLong), KernelMode::fused);
  EXPECT_TRUE(at::equal(q0, q));
  auto [q5, k5] = apply_rope(q, k, tables, at::full({2}, 5, at::kLong), KernelMode::fused);
  EXPECT_TRUE(at::allclose(q5.norm(2, -1), q.norm(2, -1), 1e-5, 1e-6));
  EXPECT_FALSE(at::allclose(q5, q));
}

TEST(Rope, FrequencyTables) {
  auto [plain, a0] = rope_inverse_frequencies(10000.0, 8, {});
  EXPECT_NEAR(plain[1].item<double>(), std::pow(10000.0, -2.0 / 8), 1e-7);
  EXPECT_EQ(a0, 1.0);
  RopeScaling linear;
  linear.kind = RopeScaling::Kind::linear;
  linear.factor = 4;
  EXPECT_TRUE(at::allclose(rope_inverse_frequencies(10000.0, 8, linear).first, plain / 4));
  // llama3: high frequencies (short wavelengths) kept, low frequencies divided by factor.
  RopeScaling llama3;
  llama3.kind = RopeScaling::Kind::llama3;
  llama3.factor = 8;
  llama3.original_max_position_embeddings = 8192;
  auto [l3, a1] = rope_inverse_frequencies(500000.0, 128, llama3);
  auto [base, unused] = rope_inverse_frequencies(500000.0, 128, {});
  EXPECT_FLOAT_EQ(l3[0].item<float>(), base[0].item<float>());
  EXPECT_FLOAT_EQ(l3[63].item<float>(), base[63].item<float>() / 8);
  // yarn: attention factor 0.1 ln(factor) + 1 folded into the tables.
  RopeScaling yarn;
  yarn.kind = RopeScaling::Kind::yarn;
  yarn.factor = 4;
  auto [y, attention] = rope_inverse_frequencies(10000.0, 8, yarn);
  EXPECT_NEAR(attention, 0.1 * std::log(4.0) + 1, 1e-12);
  auto tables = rope_tables(10000.0, 8, 2, yarn);
  EXPECT_NEAR(tables.cos[0][0].item<double>(), attention, 1e-6);
}

}  // namespace
}  // namespace tailor::kernels
