// Plain launcher interface of NF4 dequantization (nf4_cpu.cpp, nf4.cu, nf4.cpp).
#pragma once

#include <cstdint>

#include "kernels/launch_types.h"

namespace tailor::kernels {

// out[i] = nf4_code[q_i] * absmax[i / blocksize], q_i the high nibble of packed[i/2] for even i, the low
// nibble for odd i. With double quantization absmax[b] = dynamic_code[absmax_q[b]] *
// nested_absmax[b / nested_blocksize] + nested_offset, all float32 as bitsandbytes computes it.
struct Nf4DequantizeParams {
  const uint8_t* packed;        // [ceil(n / 2)]
  const float* absmax;          // [blocks] when not double-quantized, else null
  const uint8_t* absmax_q;      // [blocks] when double-quantized, else null
  const float* nested_absmax;   // [ceil(blocks / nested_blocksize)]
  const float* nf4_code;        // [16]
  const float* dynamic_code;    // [256]
  float nested_offset;
  int64_t n, blocksize, nested_blocksize;
  void* out;                    // [n], dtype (f32 or bf16)
  KernelDtype dtype;
};

void nf4_dequantize_cpu(const Nf4DequantizeParams& p);
int launch_nf4_dequantize(const Nf4DequantizeParams& p, void* stream);

}  // namespace tailor::kernels
