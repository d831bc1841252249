// Rotary embedding on CPU: tokens in parallel, each head's two halves rotated with vector loads.
#include <ATen/Parallel.h>

#include "kernels/cpu_isa.h"
#include "kernels/cpu_vec.h"
#include "kernels/rope_launch.h"

namespace tailor::kernels::TAILOR_CPU_ISA {
namespace {

template <typename T, typename A = cpu::acc_t<T>>
void rope(const RopeParams& p) {
  using V = cpu::Vec<A>;
  constexpr int64_t L = cpu::lanes<A>();
  const T* x = static_cast<const T*>(p.x);
  T* out = static_cast<T*>(p.out);
  const A sign = p.inverse ? A(-1) : A(1);
  at::parallel_for(0, p.batch * p.seq, 1, [&](int64_t begin, int64_t end) {
    for (int64_t token = begin; token < end; ++token) {
      const int64_t b = token / p.seq, t = token % p.seq;
      const int64_t row = p.positions ? p.positions[token] : b * p.table_batch_stride + t;
      const float* cos = p.cos + row * p.half;
      const float* sin = p.sin + row * p.half;
      for (int64_t h = 0; h < p.heads; ++h) {
        const T* xh = x + b * p.x_stride[0] + t * p.x_stride[1] + h * p.x_stride[2];
        T* oh = out + b * p.out_stride[0] + t * p.out_stride[1] + h * p.out_stride[2];
        int64_t i = 0;
        for (; i + L <= p.half; i += L) {
          V c = cpu::load<A>(cos + i), s = cpu::load<A>(sin + i) * V(sign);
          V a = cpu::load<A>(xh + i), b2 = cpu::load<A>(xh + i + p.half);
          cpu::store<A>(oh + i, a * c - b2 * s);
          cpu::store<A>(oh + i + p.half, b2 * c + a * s);
        }
        for (; i < p.half; ++i) {
          const A c = cos[i], s = sign * A(sin[i]), a = A(xh[i]), b2 = A(xh[i + p.half]);
          oh[i] = T(a * c - b2 * s);
          oh[i + p.half] = T(b2 * c + a * s);
        }
        for (i = 2 * p.half; i < p.head_dim; ++i) oh[i] = xh[i];
      }
    }
  });
}

}  // namespace

void rope_cpu(const RopeParams& p) {
  cpu::dispatch(p.dtype, [&](auto t) { rope<decltype(t)>(p); });
}

}  // namespace tailor::kernels::TAILOR_CPU_ISA
