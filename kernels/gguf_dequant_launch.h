// Plain launcher interface of GGUF block dequantization (gguf_dequant_cpu.cpp, gguf_dequant.cu,
// gguf_dequant.cpp).
#pragma once

#include <cstdint>

#include "kernels/launch_types.h"

namespace tailor::kernels {

// out[r, :] = the dequantized GGUF row row_order[r] (or r). Rows are whole blocks of `type` (a ggml type
// id among those gguf_values.h decodes), row_bytes apart.
struct GgufDequantParams {
  const uint8_t* blocks;
  const int64_t* row_order;  // [rows] or nullptr
  void* out;                 // [rows, cols] contiguous, dtype (f32 or bf16)
  int64_t rows, cols, row_bytes;
  uint32_t type;
  KernelDtype dtype;
};

void gguf_dequantize_cpu(const GgufDequantParams& p);
int launch_gguf_dequantize(const GgufDequantParams& p, void* stream);

}  // namespace tailor::kernels
