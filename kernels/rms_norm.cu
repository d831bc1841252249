// RMSNorm CUDA kernels: one block per row (grid-stride over rows), float32 accumulation.
#include "kernels/cuda_common.cuh"
#include "kernels/rms_norm_launch.h"

namespace tailor::kernels {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kBackwardBlocks = 264;  // two per H100/H200 multiprocessor: partial rows stay few

template <typename T>
__global__ void rms_norm_forward_kernel(RmsNormParams p) {
  const T* x = static_cast<const T*>(p.x);
  T* y = static_cast<T*>(p.y);
  const float* w = static_cast<const float*>(p.weight);
  const float offset = p.unit_offset ? 1.f : 0.f;
  for (int64_t r = blockIdx.x; r < p.rows; r += gridDim.x) {
    const T* xr = x + r * p.cols;
    float ss = 0.f;
    for (int64_t i = threadIdx.x; i < p.cols; i += blockDim.x) {
      float v = cuda::to_float(xr[i]);
      ss += v * v;
    }
    const float rstd = rsqrtf(cuda::block_sum(ss) / float(p.cols) + p.eps);
    if (threadIdx.x == 0) static_cast<float*>(p.rstd)[r] = rstd;
    for (int64_t i = threadIdx.x; i < p.cols; i += blockDim.x)
      y[r * p.cols + i] = cuda::from_float<T>(cuda::to_float(xr[i]) * rstd * (w[i] + offset));
  }
}

template <typename T>
__global__ void rms_norm_backward_kernel(RmsNormBackwardParams p) {
  const T* g = static_cast<const T*>(p.grad_y);
  const T* x = static_cast<const T*>(p.x);
  T* dx = static_cast<T*>(p.grad_x);
  const float* w = static_cast<const float*>(p.weight);
  const float offset = p.unit_offset ? 1.f : 0.f;
  float* dw = static_cast<float*>(p.grad_weight_partial) + blockIdx.x * p.cols;
  for (int64_t i = threadIdx.x; i < p.cols; i += blockDim.x) dw[i] = 0.f;
  for (int64_t r = blockIdx.x; r < p.rows; r += gridDim.x) {
    const T* gr = g + r * p.cols;
    const T* xr = x + r * p.cols;
    const float rstd = static_cast<const float*>(p.rstd)[r];
    float dot = 0.f;
    for (int64_t i = threadIdx.x; i < p.cols; i += blockDim.x) {
      const float gv = cuda::to_float(gr[i]), xh = cuda::to_float(xr[i]) * rstd;
      dot += gv * (w[i] + offset) * xh;
      dw[i] += gv * xh;  // each column is owned by one thread of this block: no race
    }
    const float mean = cuda::block_sum(dot) / float(p.cols);
    for (int64_t i = threadIdx.x; i < p.cols; i += blockDim.x) {
      const float gw = cuda::to_float(gr[i]) * (w[i] + offset);
      dx[r * p.cols + i] = cuda::from_float<T>((gw - cuda::to_float(xr[i]) * rstd * mean) * rstd);
    }
  }
}

}  // namespace

int64_t rms_norm_backward_cuda_partials(int64_t rows) { return rows < kBackwardBlocks ? (rows > 0 ? rows : 1) : kBackwardBlocks; }

int launch_rms_norm_forward(const RmsNormParams& p, void* stream) {
  if (p.rows == 0) return 0;
  const int blocks = int(p.rows < 65535 ? p.rows : 65535);
  return cuda::dispatch(p.dtype, [&](auto t) {
    rms_norm_forward_kernel<decltype(t)><<<blocks, kThreads, 0, static_cast<cudaStream_t>(stream)>>>(p);
  });
}

int launch_rms_norm_backward(const RmsNormBackwardParams& p, void* stream) {
  return cuda::dispatch(p.dtype, [&](auto t) {
    rms_norm_backward_kernel<decltype(t)><<<int(p.partials), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(p);
  });
}

}  // namespace tailor::kernels
