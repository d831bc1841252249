// ggml tensor types and their block layouts: sizes, and dequantization of blocks to float32
// (bit-for-bit what ggml's dequantize_row_* and gguf-py's quants.dequantize compute).
// Quantizers for export live beside these.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "formats/dtype.h"

namespace tailor::formats {

enum class GgufType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
  Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15,
  IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ4_NL = 20, IQ3_S = 21, IQ2_S = 22, IQ4_XS = 23,
  I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28, IQ1_M = 29, BF16 = 30,
  TQ1_0 = 34, TQ2_0 = 35, MXFP4 = 39,
};

struct GgufTypeInfo {
  std::string_view name;   // "Q4_K", as ggml and gguf-py spell it
  int64_t block_size;      // elements per block
  size_t type_size;        // bytes per block
  bool dequantizable;      // tailor can turn it into float32
};

// nullptr for an id tailor does not know (retired or newer than this table).
const GgufTypeInfo* gguf_type_info(uint32_t type);
std::string_view gguf_type_name(GgufType type);

// The safetensors dtype with the same bytes (F32, F16, BF16, F64, I8..I64), if any.
std::optional<DType> gguf_type_as_dtype(GgufType type);

// Dequantizes `n` consecutive elements (a multiple of the block size) starting at a block boundary.
// Throws std::invalid_argument for a type that is not dequantizable.
void dequantize_blocks(GgufType type, const std::byte* blocks, float* out, int64_t n);

}  // namespace tailor::formats
