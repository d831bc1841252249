// Gated activations on CUDA: element-wise, grid-stride, float32 math.
#include "kernels/cuda_common.cuh"
#include "kernels/glu_launch.h"

namespace tailor::kernels {
namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ void activation(GluActivation kind, float x, float& value, float& slope) {
  if (kind == GluActivation::silu) {
    const float s = 1.f / (1.f + expf(-x));
    value = x * s;
    slope = s * (1.f + x * (1.f - s));
  } else {
    constexpr float k = 0.7978845608028654f, c = 0.044715f;
    const float t = tanhf(k * x * (1.f + c * x * x));
    value = 0.5f * x * (1.f + t);
    slope = 0.5f * (1.f + t) + 0.5f * x * (1.f - t * t) * k * (1.f + 3.f * c * x * x);
  }
}

template <typename T>
__global__ void glu_forward_kernel(GluParams p) {
  const T* gate = static_cast<const T*>(p.gate);
  const T* up = static_cast<const T*>(p.up);
  T* out = static_cast<T*>(p.out);
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < p.n; i += int64_t(gridDim.x) * blockDim.x) {
    float value, slope;
    activation(p.act, cuda::to_float(gate[i]), value, slope);
    out[i] = cuda::from_float<T>(value * cuda::to_float(up[i]));
  }
}

template <typename T>
__global__ void glu_backward_kernel(GluBackwardParams p) {
  const T* g = static_cast<const T*>(p.grad_out);
  const T* gate = static_cast<const T*>(p.gate);
  const T* up = static_cast<const T*>(p.up);
  T* dgate = static_cast<T*>(p.grad_gate);
  T* dup = static_cast<T*>(p.grad_up);
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < p.n; i += int64_t(gridDim.x) * blockDim.x) {
    float value, slope;
    activation(p.act, cuda::to_float(gate[i]), value, slope);
    const float gv = cuda::to_float(g[i]);
    dgate[i] = cuda::from_float<T>(gv * cuda::to_float(up[i]) * slope);
    dup[i] = cuda::from_float<T>(gv * value);
  }
}

}  // namespace

int launch_glu_forward(const GluParams& p, void* stream) {
  if (p.n == 0) return 0;
  return cuda::dispatch(p.dtype, [&](auto t) {
    glu_forward_kernel<decltype(t)><<<cuda::grid_for(p.n, kThreads), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(p);
  });
}

int launch_glu_backward(const GluBackwardParams& p, void* stream) {
  if (p.n == 0) return 0;
  return cuda::dispatch(p.dtype, [&](auto t) {
    glu_backward_kernel<decltype(t)><<<cuda::grid_for(p.n, kThreads), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(p);
  });
}

}  // namespace tailor::kernels
