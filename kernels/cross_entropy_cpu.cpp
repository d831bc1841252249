// Row-wise softmax cross-entropy on CPU: two vectorized passes per row forward, one backward.
#include <ATen/Parallel.h>

#include <cmath>
#include <limits>

#include "kernels/cpu_isa.h"
#include "kernels/cpu_vec.h"
#include "kernels/cross_entropy_launch.h"

namespace tailor::kernels::TAILOR_CPU_ISA {
namespace {

template <typename T, typename A>
A row_logsumexp(const T* x, int64_t n) {
  using V = cpu::Vec<A>;
  constexpr int64_t L = cpu::lanes<A>();
  V vmax(-std::numeric_limits<A>::infinity());
  int64_t i = 0;
  for (; i + L <= n; i += L) vmax = at::vec::maximum(vmax, cpu::load<A>(x + i));
  A m = cpu::reduce_max(vmax);
  for (; i < n; ++i) m = std::max(m, A(x[i]));
  V vm(m), vsum(0);
  for (i = 0; i + L <= n; i += L) vsum = vsum + (cpu::load<A>(x + i) - vm).exp();
  A s = cpu::reduce_sum(vsum);
  for (; i < n; ++i) s += std::exp(A(x[i]) - m);
  return m + std::log(s);
}

template <typename T, typename A = cpu::acc_t<T>>
void forward(const CrossEntropyParams& p) {
  const T* logits = static_cast<const T*>(p.logits);
  A* lse = static_cast<A*>(p.lse);
  A* loss = static_cast<A*>(p.loss);
  at::parallel_for(0, p.rows, 1, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const T* row = logits + r * p.vocab;
      lse[r] = row_logsumexp<T, A>(row, p.vocab);
      const int64_t label = p.labels[r];
      loss[r] = label == p.ignore_index ? A(0) : lse[r] - A(row[label]);
    }
  });
}

template <typename T, typename A = cpu::acc_t<T>>
void backward(const CrossEntropyBackwardParams& p) {
  using V = cpu::Vec<A>;
  constexpr int64_t L = cpu::lanes<A>();
  T* logits = static_cast<T*>(p.logits);
  const A* lse = static_cast<const A*>(p.lse);
  const A scale = *static_cast<const A*>(p.scale);
  at::parallel_for(0, p.rows, 1, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      T* row = logits + r * p.vocab;
      const int64_t label = p.labels[r];
      if (label == p.ignore_index) {
        std::fill(row, row + p.vocab, T(0));
        continue;
      }
      const A label_logit = A(row[label]);
      V vl(lse[r]), vs(scale);
      int64_t i = 0;
      for (; i + L <= p.vocab; i += L) cpu::store<A>(row + i, (cpu::load<A>(row + i) - vl).exp() * vs);
      for (; i < p.vocab; ++i) row[i] = T(std::exp(A(row[i]) - lse[r]) * scale);
      row[label] = T((std::exp(label_logit - lse[r]) - A(1)) * scale);
    }
  });
}

}  // namespace

void cross_entropy_forward_cpu(const CrossEntropyParams& p) {
  cpu::dispatch(p.dtype, [&](auto t) { forward<decltype(t)>(p); });
}

void cross_entropy_backward_cpu(const CrossEntropyBackwardParams& p) {
  cpu::dispatch(p.dtype, [&](auto t) { backward<decltype(t)>(p); });
}

}  // namespace tailor::kernels::TAILOR_CPU_ISA
