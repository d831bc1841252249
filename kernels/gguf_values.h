// The value of one element of a GGUF quantized block, for the CPU loops and the CUDA kernel alike (one
// source, so both devices compute the same float32 operations as ggml's dequantize_row_* and
// formats/gguf_blocks.cpp). Elements come in groups of 32 sharing their scales (group_scale) and each
// has an integer quant (quant): value = scale * quant + offset, the same float32 operations as ggml.
// Products and differences are never contracted into FMAs (CUDA: explicit _rn intrinsics; the CPU
// loops are compiled with -ffp-contract=off), so results are bit-identical to the scalar reference.
#pragma once

#include <cstdint>
#include <cstring>

// Internal linkage on the host: the CPU loops include this in their baseline and AVX2 builds alike.
#ifdef __CUDACC__
#define TAILOR_HD static __host__ __device__ __forceinline__
#else
#define TAILOR_HD static inline
#endif

namespace tailor::kernels::gguf {

enum Type : uint32_t { q4_0 = 2, q4_1 = 3, q8_0 = 8, q4_k = 12, q5_k = 13, q6_k = 14 };  // ggml ids

struct Layout {
  int block_size, type_size;
};
TAILOR_HD Layout layout(uint32_t type) {
  switch (type) {
    case q4_0: return {32, 18};
    case q4_1: return {32, 20};
    case q8_0: return {32, 34};
    case q4_k: return {256, 144};
    case q5_k: return {256, 176};
    case q6_k: return {256, 210};
    default: return {0, 0};
  }
}

TAILOR_HD float mul(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}
TAILOR_HD float add(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}

// IEEE half to float, exact for every input (subnormals included): the half's exponent and mantissa
// placed in a float and rescaled by 2^112; infinities and NaNs keep their payload.
TAILOR_HD float half_at(const uint8_t* p) {
  const uint32_t h = uint32_t(p[0]) | uint32_t(p[1]) << 8;
  const uint32_t sign = (h & 0x8000u) << 16, magnitude = h & 0x7FFFu;
  uint32_t bits;
  float v;
  if (magnitude >= 0x7C00u) {
    bits = sign | 0x7F800000u | (magnitude & 0x3FFu) << 13;
  } else {
    bits = magnitude << 13;
    memcpy(&v, &bits, 4);
    v = mul(v, 5.192296858534828e33f);  // 2^112
    memcpy(&bits, &v, 4);
    bits |= sign;
  }
  memcpy(&v, &bits, 4);
  return v;
}

// Q4_K / Q5_K: the 6-bit scale and min of sub-block k in the 12 packed bytes q.
TAILOR_HD void scale_min_k4(int k, const uint8_t* q, int& sc, int& mn) {
  if (k < 4) {
    sc = q[k] & 63;
    mn = q[k + 4] & 63;
  } else {
    sc = (q[k + 4] & 0xF) | ((q[k - 4] >> 6) << 4);
    mn = (q[k + 4] >> 4) | ((q[k] >> 6) << 4);
  }
}

// Every element is scale * q + offset: an integer quant q, and a float32 scale (one per 16 lanes) and
// offset (-0.0 where ggml adds none: x + -0.0 == x, signed zeros included) shared by the group.
struct GroupScale {
  float low, high, offset;  // scale of lanes 0..15, of lanes 16..31
};

template <uint32_t kType>
TAILOR_HD GroupScale group_scale(const uint8_t* b, int g) {
  if constexpr (kType == q4_0 || kType == q8_0) {
    const float d = half_at(b);
    return {d, d, -0.0f};
  } else if constexpr (kType == q4_1) {
    const float d = half_at(b);
    return {d, d, half_at(b + 2)};
  } else if constexpr (kType == q4_k || kType == q5_k) {  // f16 d; f16 dmin; u8 scales[12]; ...
    int sc, mn;
    scale_min_k4(g, b + 4, sc, mn);
    const float dk = mul(half_at(b), float(sc));
    return {dk, dk, -mul(half_at(b + 2), float(mn))};
  } else {  // q6_k: i8 scales[16] at 192, f16 d at 208; group g = 4 n + part uses scales[8 n + 2 part + l / 16]
    const int8_t* sc = reinterpret_cast<const int8_t*>(b + 192 + 8 * (g / 4) + 2 * (g % 4));
    const float d = half_at(b + 208);
    return {mul(d, float(sc[0])), mul(d, float(sc[1])), -0.0f};
  }
}

template <uint32_t kType>
TAILOR_HD int quant(const uint8_t* b, int g, int l) {
  if constexpr (kType == q4_0) {  // f16 d; u8 qs[16]: lanes 0..15 low nibbles, 16..31 high
    return (l < 16 ? (b[2 + l] & 0x0F) : (b[2 + l - 16] >> 4)) - 8;
  } else if constexpr (kType == q4_1) {  // f16 d; f16 m; u8 qs[16]
    return l < 16 ? (b[4 + l] & 0x0F) : (b[4 + l - 16] >> 4);
  } else if constexpr (kType == q8_0) {  // f16 d; i8 qs[32]
    return int8_t(b[2 + l]);
  } else if constexpr (kType == q4_k) {  // u8 qs[128] at 16: group g in the low (even g) or high nibbles of qs[32 (g / 2) + l]
    return (b[16 + 32 * (g / 2) + l] >> (4 * (g % 2))) & 0xF;
  } else if constexpr (kType == q5_k) {  // u8 qh[32] at 16 (bit g: fifth bit), u8 qs[128] at 48
    return ((b[48 + 32 * (g / 2) + l] >> (4 * (g % 2))) & 0xF) | ((b[16 + l] >> g) & 1) << 4;
  } else {  // q6_k: u8 ql[128]; u8 qh[64]; half n = g / 4 and part = g % 4 cover elements 128 n + 32 part + l
    const int n = g / 4, part = g % 4;
    const uint8_t low = b[64 * n + l + 32 * (part % 2)];
    const int nibble = part < 2 ? (low & 0xF) : (low >> 4);
    return (nibble | ((b[128 + 32 * n + l] >> (2 * part)) & 3) << 4) - 32;
  }
}

TAILOR_HD float value(const GroupScale& s, int l, int q) { return add(mul(l < 16 ? s.low : s.high, float(q)), s.offset); }

}  // namespace tailor::kernels::gguf
