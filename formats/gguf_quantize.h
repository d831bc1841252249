// Quantizers for GGUF export, beside the dequantizers in gguf_blocks.h: float32 rows to ggml block
// types, ported from ggml-quants.c's reference (`quantize_row_*_ref`) functions so the bytes equal what
// llama.cpp's quantize writes without an importance matrix (Q8_0 and Q4_0 also equal gguf-py's
// quants.quantize). Plain float buffers, no LibTorch; rows are split across threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "formats/gguf_blocks.h"

namespace tailor::formats {

// Types tailor can write: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K.
bool gguf_can_quantize(GgufType type);

// Bytes of one row of `n` elements (n a multiple of the block size).
size_t gguf_row_bytes(GgufType type, int64_t n);

// Quantizes `rows` rows of `n` floats (row-major, contiguous) into `dst` (rows * gguf_row_bytes bytes).
// threads = 0: one per hardware thread. Throws std::invalid_argument for a type tailor cannot write or
// an `n` that is not a multiple of the type's block size.
void quantize_rows(GgufType type, const float* src, std::byte* dst, int64_t rows, int64_t n, unsigned threads = 0);

// The whole tensor (ggml order: rows of `row_length` elements) as a new byte buffer.
std::vector<std::byte> quantize(GgufType type, std::span<const float> values, int64_t row_length, unsigned threads = 0);

}  // namespace tailor::formats
