// GGUF block dequantization: the fused CPU and CUDA kernels equal formats' scalar dequantizer (ggml's
// dequantize_row_*) bit for bit, in float32 and as its bfloat16 cast, on random blocks (every bit
// pattern of the quantized fields; fp16 scales drawn over all finite halves, subnormals included),
// odd row counts, one to three blocks per row, and a row permutation. Fully random bytes (NaN and
// infinite scales) agree up to NaN payloads.
#include "kernels/gguf_dequant.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "formats/gguf_blocks.h"
#include "tests/support/cuda.h"

namespace tailor::kernels {
namespace {

struct TypeCase {
  formats::GgufType type;
  std::vector<int> half_offsets;  // the fp16 scale fields of one block
};

const std::vector<TypeCase>& type_cases() {
  static const std::vector<TypeCase> cases{{formats::GgufType::Q4_0, {0}},    {formats::GgufType::Q4_1, {0, 2}},
                                           {formats::GgufType::Q8_0, {0}},    {formats::GgufType::Q4_K, {0, 2}},
                                           {formats::GgufType::Q5_K, {0, 2}}, {formats::GgufType::Q6_K, {208}}};
  return cases;
}

// Random bytes; unless `any_bits`, each fp16 scale field is made finite (exponent 31 loses its top bit).
at::Tensor random_blocks(const TypeCase& c, int64_t rows, int64_t blocks_per_row, bool any_bits) {
  const auto* info = formats::gguf_type_info(static_cast<uint32_t>(c.type));
  auto bytes = at::randint(0, 256, {rows, blocks_per_row * int64_t(info->type_size)}, at::kByte);
  if (any_bits) return bytes;
  uint8_t* p = bytes.data_ptr<uint8_t>();
  for (int64_t b = 0; b < rows * blocks_per_row; ++b)
    for (int offset : c.half_offsets) {
      uint8_t& high = p[b * info->type_size + offset + 1];
      if ((high & 0x7C) == 0x7C) high &= 0xBF;
    }
  return bytes;
}

// formats' dequantizer, row by row, as float32 [rows, cols].
at::Tensor expected(const TypeCase& c, const at::Tensor& blocks, int64_t cols) {
  auto out = at::empty({blocks.size(0), cols}, at::kFloat);
  formats::dequantize_blocks(c.type, reinterpret_cast<const std::byte*>(blocks.data_ptr<uint8_t>()),
                             out.data_ptr<float>(), out.numel());
  return out;
}

// Bitwise equality; with `nan_equal`, any two NaNs count as equal (payloads differ across devices).
void expect_same_bits(const at::Tensor& got, const at::Tensor& want, bool nan_equal, const std::string& what) {
  auto g = got.cpu().contiguous(), w = want.contiguous();
  auto bits = [](const at::Tensor& t) {
    return t.scalar_type() == at::kFloat ? t.view(at::kInt).to(at::kLong) : t.view(at::kShort).to(at::kLong);
  };
  auto differ = bits(g) != bits(w);
  if (nan_equal) differ = differ & ~(g.isnan() & w.isnan());
  const int64_t count = differ.sum().item<int64_t>();
  EXPECT_EQ(count, 0) << what << ": " << count << " of " << g.numel() << " elements differ";
}

void check_device(at::Device device) {
  at::manual_seed(21);
  for (const TypeCase& c : type_cases()) {
    const auto* info = formats::gguf_type_info(static_cast<uint32_t>(c.type));
    for (int64_t rows : {1, 7, 33})
      for (int64_t blocks_per_row : {1, 3})
        for (bool any_bits : {false, true}) {
          const int64_t cols = blocks_per_row * info->block_size;
          auto blocks = random_blocks(c, rows, blocks_per_row, any_bits);
          auto want = expected(c, blocks, cols);
          auto order = at::randperm(rows, at::kLong);
          const std::string what = std::string(info->name) + " rows " + std::to_string(rows) + " blocks/row " +
                                   std::to_string(blocks_per_row) + (any_bits ? " (any bits)" : "");
          for (auto dtype : {at::kFloat, at::kBFloat16})
            for (bool reorder : {false, true}) {
              auto out = at::empty({rows, cols}, at::device(device).dtype(dtype));
              auto row_order = reorder ? order.to(device) : at::Tensor();
              gguf_dequantize_into(static_cast<uint32_t>(c.type), blocks.to(device), cols, out, row_order,
                                   KernelMode::fused);
              auto reference = (reorder ? want.index_select(0, order) : want).to(dtype);
              expect_same_bits(out, reference, any_bits,
                               what + " " + c10::toString(dtype) + (reorder ? " reordered" : ""));
            }
        }
  }
}

TEST(GgufDequantize, FusedEqualsFormatsDequantizerCpu) { check_device(at::kCPU); }

TEST(GgufDequantize, FusedEqualsFormatsDequantizerCuda) {
  TAILOR_REQUIRE_CUDA();
  check_device(at::kCUDA);
}

// The reference mode (what the benchmark compares against) is formats' dequantizer too, reordered and cast.
TEST(GgufDequantize, ReferenceModeMatchesFused) {
  at::manual_seed(22);
  const TypeCase& c = type_cases()[3];  // Q4_K
  auto blocks = random_blocks(c, 5, 2, false);
  auto order = at::randperm(5, at::kLong);
  auto fused = at::empty({5, 512}, at::kBFloat16), reference = at::empty({5, 512}, at::kBFloat16);
  gguf_dequantize_into(12, blocks, 512, fused, order, KernelMode::fused);
  gguf_dequantize_into(12, blocks, 512, reference, order, KernelMode::reference);
  EXPECT_TRUE(at::equal(fused, reference));
}

TEST(GgufDequantize, RejectsBadInput) {
  auto blocks = at::zeros({2, 18}, at::kByte);  // one Q4_0 block per row
  auto out = at::empty({2, 32}, at::kFloat);
  EXPECT_TRUE(gguf_dequantize_supported(2));
  EXPECT_FALSE(gguf_dequantize_supported(11));  // Q3_K: reference only
  EXPECT_THROW(gguf_dequantize_into(2, blocks, 64, out, {}, KernelMode::fused), c10::Error);  // bytes vs cols
  auto q3_k = at::zeros({2, 110}, at::kByte);  // Q3_K: formats dequantizes it, no fused kernel does
  auto q3_k_out = at::empty({2, 256}, at::kFloat);
  EXPECT_THROW(gguf_dequantize_into(11, q3_k, 256, q3_k_out, {}, KernelMode::fused), c10::Error);
  gguf_dequantize_into(11, q3_k, 256, q3_k_out, {}, KernelMode::reference);
  EXPECT_THROW(gguf_dequantize_into(2, blocks, 32, out, at::tensor({0, 2}, at::kLong), KernelMode::fused), c10::Error);
  auto wrong = at::empty({2, 32}, at::kDouble);
  EXPECT_THROW(gguf_dequantize_into(2, blocks, 32, wrong, {}, KernelMode::fused), c10::Error);
  gguf_dequantize_into(2, blocks, 32, out, at::tensor({1, 0}, at::kLong), KernelMode::fused);
  EXPECT_TRUE(at::equal(out, at::zeros({2, 32})));  // d = 0
}

}  // namespace
}  // namespace tailor::kernels
