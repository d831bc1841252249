// Row loops of the CPU causal attention: one pass per row in float32 (float64 for double) on at::vec.
#include <ATen/Parallel.h>

#include <cmath>
#include <limits>
#include <vector>

#include "kernels/causal_attention_launch.h"
#include "kernels/cpu_isa.h"
#include "kernels/cpu_vec.h"

namespace tailor::kernels::TAILOR_CPU_ISA {
namespace {

// Calls f(row pointer offset, lse/delta index, first visible column, end of the visible columns) for every
// row of the block, in parallel.
template <typename F>
void for_each_row(const CausalBlock& b, F&& f) {
  const int64_t rows = b.matrices * b.groups * b.block_rows;
  at::parallel_for(0, rows, 16, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int64_t i = r % b.block_rows, mg = r / b.block_rows;  // mg = m * groups + g
      const int64_t t = b.first_query + i;
      const int64_t lo = b.first_key ? b.first_key[(mg / b.groups / b.kv_heads) * b.seq_len + t] : 0;
      f(r * b.keys, mg * b.seq_len + t, lo - b.key_begin, t + 1 - b.key_begin);
    }
  });
}

template <typename T, typename A = cpu::acc_t<T>>
void forward(const CausalSoftmaxParams& p) {
  constexpr int64_t L = cpu::lanes<A>();
  using V = cpu::Vec<A>;
  const CausalBlock& b = p.block;
  T* scores = static_cast<T*>(p.scores);
  A* lse = static_cast<A*>(p.lse);
  const A scale = A(b.scale);
  for_each_row(b, [&](int64_t offset, int64_t at_lse, int64_t lo, int64_t hi) {
    T* all = scores + offset;
    T* row = all + lo;  // the visible columns lo .. hi - 1
    const int64_t visible = hi - lo;
    thread_local std::vector<A> e;
    e.resize(size_t(visible));
    A peak = -std::numeric_limits<A>::infinity();
    int64_t j = 0;
    V vpeak(peak);
    for (; j + L <= visible; j += L) vpeak = at::vec::maximum(vpeak, cpu::load<A>(row + j) * V(scale));
    peak = cpu::reduce_max(vpeak);
    for (; j < visible; ++j) peak = std::max(peak, A(row[j]) * scale);
    V vsum(0);
    for (j = 0; j + L <= visible; j += L) {
      V x = (cpu::load<A>(row + j) * V(scale) - V(peak)).exp();
      x.store(e.data() + j);
      vsum = vsum + x;
    }
    A sum = cpu::reduce_sum(vsum);
    for (; j < visible; ++j) sum += e[size_t(j)] = std::exp(A(row[j]) * scale - peak);
    const A inv = A(1) / sum;
    for (j = 0; j + L <= visible; j += L) cpu::store<A>(row + j, V::loadu(e.data() + j) * V(inv));
    for (; j < visible; ++j) row[j] = T(e[size_t(j)] * inv);
    for (j = 0; j < lo; ++j) all[j] = T(0);
    for (j = hi; j < b.keys; ++j) all[j] = T(0);
    lse[at_lse] = peak + std::log(sum);
  });
}

template <typename T, typename A = cpu::acc_t<T>>
void backward(const CausalSoftmaxBackwardParams& p) {
  constexpr int64_t L = cpu::lanes<A>();
  using V = cpu::Vec<A>;
  const CausalBlock& b = p.block;
  T* scores = static_cast<T*>(p.scores);
  T* grad = static_cast<T*>(p.grad);
  const A* lse = static_cast<const A*>(p.lse);
  const A* delta = static_cast<const A*>(p.delta);
  const A scale = A(b.scale);
  for_each_row(b, [&](int64_t offset, int64_t at_row, int64_t lo, int64_t hi) {
    T* s_all = scores + offset;
    T* g_all = grad + offset;
    for (int64_t j = 0; j < lo; ++j) s_all[j] = g_all[j] = T(0);
    T* s = s_all + lo;
    T* g = g_all + lo;
    const int64_t visible = hi - lo;
    const A l = lse[at_row], d = delta[at_row];
    int64_t j = 0;
    for (; j + L <= visible; j += L) {
      V prob = (cpu::load<A>(s + j) * V(scale) - V(l)).exp();
      cpu::store<A>(s + j, prob);
      cpu::store<A>(g + j, prob * (cpu::load<A>(g + j) - V(d)) * V(scale));
    }
    for (; j < visible; ++j) {
      const A prob = std::exp(A(s[j]) * scale - l);
      s[j] = T(prob);
      g[j] = T(prob * (A(g[j]) - d) * scale);
    }
    for (j = hi; j < b.keys; ++j) s_all[j] = g_all[j] = T(0);
  });
}

}  // namespace

void causal_softmax_forward_cpu(const CausalSoftmaxParams& p) {
  cpu::dispatch(p.block.dtype, [&](auto t) { forward<decltype(t)>(p); });
}

void causal_softmax_backward_cpu(const CausalSoftmaxBackwardParams& p) {
  cpu::dispatch(p.block.dtype, [&](auto t) { backward<decltype(t)>(p); });
}

}  // namespace tailor::kernels::TAILOR_CPU_ISA
