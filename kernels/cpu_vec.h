// at::vec helpers for the fused CPU loops. Storage type T is float, bfloat16 or double; arithmetic runs
// in acc_t<T> (float, or double for double) on at::vec vectors.
#pragma once

#include <ATen/cpu/vec/vec.h>
#include <c10/util/BFloat16.h>

#include <type_traits>

#if defined(CPU_CAPABILITY_AVX2)
#include <immintrin.h>
#endif

#include "kernels/launch_types.h"

namespace tailor::kernels::cpu {

template <typename T>
using acc_t = std::conditional_t<std::is_same_v<T, double>, double, float>;
template <typename A>
using Vec = at::vec::Vectorized<A>;
template <typename A>
constexpr int64_t lanes() { return Vec<A>::size(); }

#if defined(CPU_CAPABILITY_AVX2)
// bfloat16 <-> float32 for 8 lanes in registers (a bfloat16 is the top half of a float32); the store rounds
// to nearest even and keeps NaN a quiet NaN, bit for bit as c10::BFloat16's scalar conversion.
inline Vec<float> load_bf16(const c10::BFloat16* p) {
  __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(v), 16));
}
inline void store_bf16(c10::BFloat16* p, const Vec<float>& v) {
  const __m256 f = v;
  const __m256i x = _mm256_castps_si256(f);
  const __m256i odd = _mm256_and_si256(_mm256_srli_epi32(x, 16), _mm256_set1_epi32(1));
  __m256i rounded = _mm256_add_epi32(_mm256_add_epi32(x, _mm256_set1_epi32(0x7fff)), odd);
  const __m256 nan = _mm256_cmp_ps(f, f, _CMP_UNORD_Q);
  rounded = _mm256_blendv_epi8(rounded, _mm256_set1_epi32(0x7fc00000), _mm256_castps_si256(nan));
  const __m256i high = _mm256_srli_epi32(rounded, 16);
  const __m128i packed = _mm_packus_epi32(_mm256_castsi256_si128(high), _mm256_extracti128_si256(high, 1));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(p), packed);
}
#endif

template <typename A, typename T>
inline Vec<A> load(const T* p) {
  if constexpr (std::is_same_v<A, T>) {
    return Vec<A>::loadu(p);
#if defined(CPU_CAPABILITY_AVX2)
  } else if constexpr (std::is_same_v<A, float> && std::is_same_v<T, c10::BFloat16>) {
    return load_bf16(p);
#endif
  } else {
    alignas(64) A buf[lanes<A>()];
    for (int64_t i = 0; i < lanes<A>(); ++i) buf[i] = A(p[i]);
    return Vec<A>::loadu(buf);
  }
}
template <typename A, typename T>
inline void store(T* p, const Vec<A>& v) {
  if constexpr (std::is_same_v<A, T>) {
    v.store(p);
#if defined(CPU_CAPABILITY_AVX2)
  } else if constexpr (std::is_same_v<A, float> && std::is_same_v<T, c10::BFloat16>) {
    store_bf16(p, v);
#endif
  } else {
    alignas(64) A buf[lanes<A>()];
    v.store(buf);
    for (int64_t i = 0; i < lanes<A>(); ++i) p[i] = T(buf[i]);
  }
}

template <typename A>
inline A reduce_sum(const Vec<A>& v) {
  return at::vec::vec_reduce_all<A>([](const Vec<A>& a, const Vec<A>& b) { return a + b; }, v);
}
template <typename A>
inline A reduce_max(const Vec<A>& v) {
  return at::vec::vec_reduce_all<A>([](const Vec<A>& a, const Vec<A>& b) { return at::vec::maximum(a, b); }, v);
}

// Calls f(T{}) with T the storage type of dtype.
template <typename F>
void dispatch(KernelDtype dtype, F&& f) {
  if (dtype == KernelDtype::bf16) f(c10::BFloat16{});
  else if (dtype == KernelDtype::f64) f(double{});
  else f(float{});
}

}  // namespace tailor::kernels::cpu
