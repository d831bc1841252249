// Fused gated activations on CPU: one read of gate and up, one write per output, in parallel chunks.
#include <ATen/Parallel.h>

#include <cmath>

#include "kernels/cpu_isa.h"
#include "kernels/cpu_vec.h"
#include "kernels/glu_launch.h"

namespace tailor::kernels::TAILOR_CPU_ISA {
namespace {

constexpr double kSqrt2OverPi = 0.7978845608028654;
constexpr double kGeluCubic = 0.044715;
constexpr int64_t kGrain = 1 << 14;

// act(x) and act'(x) on vectors, for either activation.
template <typename A>
struct Activation {
  using V = cpu::Vec<A>;
  GluActivation kind;

  void operator()(const V& x, V& value, V& slope) const {
    const V one(1), half(0.5);
    if (kind == GluActivation::silu) {
      V s = one / (one + x.neg().exp());
      value = x * s;
      slope = s * (one + x * (one - s));
    } else {
      const V k{A(kSqrt2OverPi)}, c{A(kGeluCubic)}, three_c{A(3 * kGeluCubic)};
      V x2 = x * x;
      V t = (k * x * (one + c * x2)).tanh();
      value = half * x * (one + t);
      slope = half * (one + t) + half * x * (one - t * t) * k * (one + three_c * x2);
    }
  }
  void operator()(A x, A& value, A& slope) const {
    if (kind == GluActivation::silu) {
      A s = A(1) / (A(1) + std::exp(-x));
      value = x * s;
      slope = s * (A(1) + x * (A(1) - s));
    } else {
      A t = std::tanh(A(kSqrt2OverPi) * x * (A(1) + A(kGeluCubic) * x * x));
      value = A(0.5) * x * (A(1) + t);
      slope = A(0.5) * (A(1) + t) + A(0.5) * x * (A(1) - t * t) * A(kSqrt2OverPi) * (A(1) + A(3 * kGeluCubic) * x * x);
    }
  }
};

template <typename T, typename A = cpu::acc_t<T>>
void forward(const GluParams& p) {
  constexpr int64_t L = cpu::lanes<A>();
  const T* gate = static_cast<const T*>(p.gate);
  const T* up = static_cast<const T*>(p.up);
  T* out = static_cast<T*>(p.out);
  const Activation<A> act{p.act};
  at::parallel_for(0, p.n, kGrain, [&](int64_t begin, int64_t end) {
    int64_t i = begin;
    for (; i + L <= end; i += L) {
      cpu::Vec<A> value, slope;
      act(cpu::load<A>(gate + i), value, slope);
      cpu::store<A>(out + i, value * cpu::load<A>(up + i));
    }
    for (; i < end; ++i) {
      A value, slope;
      act(A(gate[i]), value, slope);
      out[i] = T(value * A(up[i]));
    }
  });
}

template <typename T, typename A = cpu::acc_t<T>>
void backward(const GluBackwardParams& p) {
  constexpr int64_t L = cpu::lanes<A>();
  const T* g = static_cast<const T*>(p.grad_out);
  const T* gate = static_cast<const T*>(p.gate);
  const T* up = static_cast<const T*>(p.up);
  T* dgate = static_cast<T*>(p.grad_gate);
  T* dup = static_cast<T*>(p.grad_up);
  const Activation<A> act{p.act};
  at::parallel_for(0, p.n, kGrain, [&](int64_t begin, int64_t end) {
    int64_t i = begin;
    for (; i + L <= end; i += L) {
      cpu::Vec<A> value, slope;
      act(cpu::load<A>(gate + i), value, slope);
      auto gv = cpu::load<A>(g + i);
      cpu::store<A>(dgate + i, gv * cpu::load<A>(up + i) * slope);
      cpu::store<A>(dup + i, gv * value);
    }
    for (; i < end; ++i) {
      A value, slope;
      act(A(gate[i]), value, slope);
      dgate[i] = T(A(g[i]) * A(up[i]) * slope);
      dup[i] = T(A(g[i]) * value);
    }
  });
}

}  // namespace

void glu_forward_cpu(const GluParams& p) {
  cpu::dispatch(p.dtype, [&](auto t) { forward<decltype(t)>(p); });
}

void glu_backward_cpu(const GluBackwardParams& p) {
  cpu::dispatch(p.dtype, [&](auto t) { backward<decltype(t)>(p); });
}

}  // namespace tailor::kernels::TAILOR_CPU_ISA
