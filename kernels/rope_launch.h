// Plain launcher interface of rotary position embedding (rope_cpu.cpp, rope.cu, rope.cpp).
#pragma once

#include <cstdint>

#include "kernels/launch_types.h"

namespace tailor::kernels {

// Half-rotation (NeoX / HF rotate_half) layout: within the first 2*half dims of each head, element i
// pairs with i + half. out[i] = x[i] cos - x[i+half] sin, out[i+half] = x[i+half] cos + x[i] sin; the
// dims past 2*half pass through. inverse rotates by -angle (the backward pass).
// x and out are read as [batch, seq, heads, head_dim] through element strides (head_dim contiguous), so
// the decoder's [B, H, T, D] views need no transposing copy.
struct RopeParams {
  const void* x;
  void* out;
  const float* cos;          // [table_rows, half]
  const float* sin;          // [table_rows, half]
  const int64_t* positions;  // [batch * seq] table rows, or nullptr: row b * table_batch_stride + t
  int64_t batch, seq, heads, head_dim, half, table_rows, table_batch_stride;
  int64_t x_stride[3];    // batch, seq, head
  int64_t out_stride[3];  // batch, seq, head
  bool inverse;
  KernelDtype dtype;
};

void rope_cpu(const RopeParams& p);
int launch_rope(const RopeParams& p, void* stream);

}  // namespace tailor::kernels
