// Plain launcher interface of rotary position embedding (rope_cpu.cpp, rope.cu, rope.cpp).
#pragma once

#include <cstdint>

#include "kernels/launch_types.h"

namespace tailor::kernels {

// Half-rotation (NeoX / HF rotate_half) layout: within the first 2*half dims of each head, element i
// pairs with i + half. out[i] = x[i] cos - x[i+half] sin, out[i+half] = x[i+half] cos + x[i] sin; the
// dims past 2*half pass through. inverse rotates by -angle (the backward pass).
struct RopeParams {
  const void* x;             // [tokens, heads, head_dim], dtype
  void* out;                 // same shape
  const float* cos;          // [max_positions, half]
  const float* sin;          // [max_positions, half]
  const int64_t* positions;  // [tokens], each in [0, max_positions)
  int64_t tokens, heads, head_dim, half, max_positions;
  bool inverse;
  KernelDtype dtype;
};

void rope_cpu(const RopeParams& p);
int launch_rope(const RopeParams& p, void* stream);

}  // namespace tailor::kernels
