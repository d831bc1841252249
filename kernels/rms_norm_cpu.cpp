// Fused RMSNorm on CPU: one pass for the sum of squares and one for the output per row, rows in parallel.
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>

#include "kernels/cpu_isa.h"
#include "kernels/cpu_vec.h"
#include "kernels/rms_norm_launch.h"

namespace tailor::kernels::TAILOR_CPU_ISA {
namespace {

template <typename T, typename A = cpu::acc_t<T>>
void forward(const RmsNormParams& p) {
  using V = cpu::Vec<A>;
  constexpr int64_t L = cpu::lanes<A>();
  const T* x = static_cast<const T*>(p.x);
  const A* w = static_cast<const A*>(p.weight);
  T* y = static_cast<T*>(p.y);
  A* rstd_out = static_cast<A*>(p.rstd);
  const A offset = p.unit_offset ? 1 : 0;
  at::parallel_for(0, p.rows, 1, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const T* xr = x + r * p.cols;
      T* yr = y + r * p.cols;
      V acc(0);
      int64_t i = 0;
      for (; i + L <= p.cols; i += L) {
        V v = cpu::load<A>(xr + i);
        acc = at::vec::fmadd(v, v, acc);
      }
      A ss = cpu::reduce_sum(acc);
      for (; i < p.cols; ++i) ss += A(xr[i]) * A(xr[i]);
      const A rstd = A(1) / std::sqrt(ss / A(p.cols) + A(p.eps));
      rstd_out[r] = rstd;
      V vr(rstd), vo(offset);
      for (i = 0; i + L <= p.cols; i += L) cpu::store<A>(yr + i, cpu::load<A>(xr + i) * vr * (V::loadu(w + i) + vo));
      for (; i < p.cols; ++i) yr[i] = T(A(xr[i]) * rstd * (w[i] + offset));
    }
  });
}

// dx = rstd * (g*w' - xhat * mean(g*w'*xhat)), dw = sum over rows of g * xhat, with xhat = x * rstd.
template <typename T, typename A = cpu::acc_t<T>>
void backward(const RmsNormBackwardParams& p) {
  using V = cpu::Vec<A>;
  constexpr int64_t L = cpu::lanes<A>();
  const T* g = static_cast<const T*>(p.grad_y);
  const T* x = static_cast<const T*>(p.x);
  const A* w = static_cast<const A*>(p.weight);
  const A* rstds = static_cast<const A*>(p.rstd);
  T* dx = static_cast<T*>(p.grad_x);
  const A offset = p.unit_offset ? 1 : 0;
  const int64_t per_part = (p.rows + p.partials - 1) / p.partials;
  at::parallel_for(0, p.partials, 1, [&](int64_t pbegin, int64_t pend) {
    for (int64_t part = pbegin; part < pend; ++part) {
      A* dw = static_cast<A*>(p.grad_weight_partial) + part * p.cols;
      std::fill(dw, dw + p.cols, A(0));
      const int64_t rend = std::min(p.rows, (part + 1) * per_part);
      for (int64_t r = part * per_part; r < rend; ++r) {
        const T* gr = g + r * p.cols;
        const T* xr = x + r * p.cols;
        T* dxr = dx + r * p.cols;
        const A rstd = rstds[r];
        V vr(rstd), vo(offset), dot(0);
        int64_t i = 0;
        for (; i + L <= p.cols; i += L) {
          V gv = cpu::load<A>(gr + i), xh = cpu::load<A>(xr + i) * vr;
          dot = at::vec::fmadd(gv * (V::loadu(w + i) + vo), xh, dot);
          at::vec::fmadd(gv, xh, V::loadu(dw + i)).store(dw + i);
        }
        A d = cpu::reduce_sum(dot);
        for (; i < p.cols; ++i) {
          const A xh = A(xr[i]) * rstd;
          d += A(gr[i]) * (w[i] + offset) * xh;
          dw[i] += A(gr[i]) * xh;
        }
        const A mean = d / A(p.cols);
        V vm(mean);
        for (i = 0; i + L <= p.cols; i += L) {
          V gw = cpu::load<A>(gr + i) * (V::loadu(w + i) + vo);
          cpu::store<A>(dxr + i, (gw - cpu::load<A>(xr + i) * vr * vm) * vr);
        }
        for (; i < p.cols; ++i) dxr[i] = T((A(gr[i]) * (w[i] + offset) - A(xr[i]) * rstd * mean) * rstd);
      }
    }
  });
}

}  // namespace

void rms_norm_forward_cpu(const RmsNormParams& p) {
  cpu::dispatch(p.dtype, [&](auto t) { forward<decltype(t)>(p); });
}

void rms_norm_backward_cpu(const RmsNormBackwardParams& p) {
  cpu::dispatch(p.dtype, [&](auto t) { backward<decltype(t)>(p); });
}

}  // namespace tailor::kernels::TAILOR_CPU_ISA
