// The value of one element of a GGUF quantized block, for the CPU loops and the CUDA kernel alike (one
// source, so both devices compute the same float32 operations as ggml's dequantize_row_* and
// formats/gguf_blocks.cpp). Elements come in groups of 32 sharing their scales: value(block, group, lane).
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

TAILOR_HD float q4_0_value(const uint8_t* b, int, int l) {
  const int q = l < 16 ? (b[2 + l] & 0x0F) : (b[2 + l - 16] >> 4);
  return mul(half_at(b), float(q - 8));
}

TAILOR_HD float q4_1_value(const uint8_t* b, int, int l) {
  const int q = l < 16 ? (b[4 + l] & 0x0F) : (b[4 + l - 16] >> 4);
  return add(mul(half_at(b), float(q)), half_at(b + 2));
}

TAILOR_HD float q8_0_value(const uint8_t* b, int, int l) { return mul(float(int8_t(b[2 + l])), half_at(b)); }

// Q4_K: f16 d; f16 dmin; u8 scales[12]; u8 qs[128]. Group k uses the low (even k) or high nibbles of qs[32 (k / 2) + l].
TAILOR_HD float q4_k_value(const uint8_t* b, int k, int l) {
  int sc, mn;
  scale_min_k4(k, b + 4, sc, mn);
  const int q = (b[16 + 32 * (k / 2) + l] >> (4 * (k % 2))) & 0xF;
  return add(mul(mul(half_at(b), float(sc)), float(q)), -mul(half_at(b + 2), float(mn)));
}

// Q5_K: f16 d; f16 dmin; u8 scales[12]; u8 qh[32]; u8 qs[128]; bit k of qh[l] is the fifth bit.
TAILOR_HD float q5_k_value(const uint8_t* b, int k, int l) {
  int sc, mn;
  scale_min_k4(k, b + 4, sc, mn);
  const int q = ((b[48 + 32 * (k / 2) + l] >> (4 * (k % 2))) & 0xF) | ((b[16 + l] >> k) & 1) << 4;
  return add(mul(mul(half_at(b), float(sc)), float(q)), -mul(half_at(b + 2), float(mn)));
}

// Q6_K: u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d. Group g = 4 n + part covers elements
// 128 n + 32 part + l; two scales per group (l / 16).
TAILOR_HD float q6_k_value(const uint8_t* b, int g, int l) {
  const int n = g / 4, part = g % 4;
  const uint8_t* ql = b + 64 * n;
  const uint8_t* qh = b + 128 + 32 * n;
  const int8_t scale = int8_t(b[192 + 8 * n + l / 16 + 2 * part]);
  const uint8_t lq = ql[l + (part % 2) * 32];
  const int nibble = part < 2 ? (lq & 0xF) : (lq >> 4);
  const int q = (nibble | ((qh[l] >> (2 * part)) & 3) << 4) - 32;
  return mul(mul(half_at(b + 208), float(scale)), float(q));
}

template <uint32_t kType>
TAILOR_HD float value(const uint8_t* b, int group, int lane) {
  if constexpr (kType == q4_0) return q4_0_value(b, group, lane);
  else if constexpr (kType == q4_1) return q4_1_value(b, group, lane);
  else if constexpr (kType == q8_0) return q8_0_value(b, group, lane);
  else if constexpr (kType == q4_k) return q4_k_value(b, group, lane);
  else if constexpr (kType == q5_k) return q5_k_value(b, group, lane);
  else return q6_k_value(b, group, lane);
}

}  // namespace tailor::kernels::gguf
