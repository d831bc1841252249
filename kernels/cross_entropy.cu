// Row-wise softmax cross-entropy on CUDA: one block per row (grid-stride over rows), float32 math.
#include "kernels/cross_entropy_launch.h"
#include "kernels/cuda_common.cuh"

namespace tailor::kernels {
namespace {

constexpr int kThreads = 512;

template <typename T>
__global__ void cross_entropy_forward_kernel(CrossEntropyParams p) {
  const T* logits = static_cast<const T*>(p.logits);
  for (int64_t r = blockIdx.x; r < p.rows; r += gridDim.x) {
    const T* row = logits + r * p.vocab;
    float m = -INFINITY;
    for (int64_t i = threadIdx.x; i < p.vocab; i += blockDim.x) m = fmaxf(m, cuda::to_float(row[i]));
    m = cuda::block_max(m);
    float s = 0.f;
    for (int64_t i = threadIdx.x; i < p.vocab; i += blockDim.x) s += expf(cuda::to_float(row[i]) - m);
    s = cuda::block_sum(s);
    if (threadIdx.x == 0) {
      const float lse = m + logf(s);
      const int64_t label = p.labels[r];
      static_cast<float*>(p.lse)[r] = lse;
      static_cast<float*>(p.loss)[r] = label == p.ignore_index ? 0.f : lse - cuda::to_float(row[label]);
    }
  }
}

template <typename T>
__global__ void cross_entropy_backward_kernel(CrossEntropyBackwardParams p) {
  T* logits = static_cast<T*>(p.logits);
  const float scale = *static_cast<const float*>(p.scale);
  for (int64_t r = blockIdx.x; r < p.rows; r += gridDim.x) {
    T* row = logits + r * p.vocab;
    const int64_t label = p.labels[r];
    const bool ignored = label == p.ignore_index;
    const float lse = static_cast<const float*>(p.lse)[r];
    for (int64_t i = threadIdx.x; i < p.vocab; i += blockDim.x) {
      const float softmax = expf(cuda::to_float(row[i]) - lse);
      row[i] = cuda::from_float<T>(ignored ? 0.f : (softmax - (i == label ? 1.f : 0.f)) * scale);
    }
  }
}

}  // namespace

int launch_cross_entropy_forward(const CrossEntropyParams& p, void* stream) {
  if (p.rows == 0) return 0;
  const int blocks = int(p.rows < 65535 ? p.rows : 65535);
  return cuda::dispatch(p.dtype, [&](auto t) {
    cross_entropy_forward_kernel<decltype(t)><<<blocks, kThreads, 0, static_cast<cudaStream_t>(stream)>>>(p);
  });
}

int launch_cross_entropy_backward(const CrossEntropyBackwardParams& p, void* stream) {
  if (p.rows == 0) return 0;
  const int blocks = int(p.rows < 65535 ? p.rows : 65535);
  return cuda::dispatch(p.dtype, [&](auto t) {
    cross_entropy_backward_kernel<decltype(t)><<<blocks, kThreads, 0, static_cast<cudaStream_t>(stream)>>>(p);
  });
}

}  // namespace tailor::kernels
