// Dequantization of the GGUF block types used as training bases (Q4_0, Q4_1, Q8_0, Q4_K, Q5_K, Q6_K)
// straight into float32 or bfloat16, optionally in another row order (llama's un-permuted Q/K rows), on
// CPU or CUDA. Bit-identical to formats' scalar dequantizer (ggml's dequantize_row_*): the same float32
// products and sums in the same order, fp16 scales widened exactly, never contracted into FMAs;
// bfloat16 output is that float32 value rounded to nearest even, as a float32 -> bfloat16 cast does.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

#include "kernels/kernel_mode.h"

namespace tailor::kernels {

// True for the types the fused kernels decode (ggml type ids 2, 3, 8, 12, 13, 14).
bool gguf_dequantize_supported(uint32_t ggml_type);

// blocks: uint8 [rows, row_bytes] (contiguous, CPU or CUDA), each row `cols` elements of ggml_type.
// row_order: int64 [rows] on the blocks' device or undefined; out[r] = row row_order[r] (or r). out:
// contiguous [rows, cols] float32 or bfloat16 on the blocks' device.
// fused: the CPU or CUDA kernel (supported types). reference: formats' scalar dequantizer (CPU, any
// dequantizable type), rows in parallel into float32, then reordered and cast.
void gguf_dequantize_into(uint32_t ggml_type, const at::Tensor& blocks, int64_t cols, at::Tensor& out,
                          const at::Tensor& row_order, KernelMode mode);

}  // namespace tailor::kernels
