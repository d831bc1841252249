// at::vec helpers for the fused CPU loops. Storage type T is float, bfloat16 or double; arithmetic runs
// in acc_t<T> (float, or double for double) on at::vec vectors.
#pragma once

#include <ATen/cpu/vec/vec.h>
#include <c10/util/BFloat16.h>

#include <type_traits>

#include "kernels/launch_types.h"

namespace tailor::kernels::cpu {

template <typename T>
using acc_t = std::conditional_t<std::is_same_v<T, double>, double, float>;
template <typename A>
using Vec = at::vec::Vectorized<A>;
template <typename A>
constexpr int64_t lanes() { return Vec<A>::size(); }

template <typename A, typename T>
inline Vec<A> load(const T* p) {
  if constexpr (std::is_same_v<A, T>) {
    return Vec<A>::loadu(p);
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
