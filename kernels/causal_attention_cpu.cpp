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

// Calls f(row pointer offset, lse/delta index, number of visible keys) for every row of the block, in parallel.
template <typename F>
void for_each_row(const CausalBlock& b, F&& f) {
  const int64_t rows = b.matrices * b.groups * b.block_rows;
  at::parallel_for(0, rows, 16, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int64_t i = r % b.block_rows, mg = r / b.block_rows;  // mg = m * groups + g
      f(r * b.keys, mg * b.seq_len + b.first_query + i, b.first_query + i + 1);
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
  for_each_row(b, [&](int64_t offset, int64_t at_lse, int64_t visible) {
    T* row = scores + offset;
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
    for (j = visible; j < b.keys; ++j) row[j] = T(0);
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
  for_each_row(b, [&](int64_t offset, int64_t at_row, int64_t visible) {
    T* s = scores + offset;
    T* g = grad + offset;
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
    for (j = visible; j < b.keys; ++j) s[j] = g[j] = T(0);
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
