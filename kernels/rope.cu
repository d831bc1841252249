// Rotary embedding on CUDA: one thread per (token, head, pair), float32 math.
#include "kernels/cuda_common.cuh"
#include "kernels/rope_launch.h"

namespace tailor::kernels {
namespace {

constexpr int kThreads = 256;

template <typename T>
__global__ void rope_kernel(RopeParams p) {
  const T* x = static_cast<const T*>(p.x);
  T* out = static_cast<T*>(p.out);
  const int64_t width = p.head_dim - p.half;  // pairs, then the pass-through tail
  const int64_t total = p.batch * p.seq * p.heads * width;
  const float sign = p.inverse ? -1.f : 1.f;
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < total; idx += int64_t(gridDim.x) * blockDim.x) {
    const int64_t row = idx / width, i = idx % width;  // row = token * heads + head
    const int64_t token = row / p.heads, h = row % p.heads, b = token / p.seq, t = token % p.seq;
    const T* xh = x + b * p.x_stride[0] + t * p.x_stride[1] + h * p.x_stride[2];
    T* oh = out + b * p.out_stride[0] + t * p.out_stride[1] + h * p.out_stride[2];
    if (i < p.half) {
      int64_t pos = p.positions ? p.positions[token] : b * p.table_batch_stride + t;
      pos = pos < 0 ? 0 : (pos >= p.table_rows ? p.table_rows - 1 : pos);  // callers validate; never fault
      const float c = p.cos[pos * p.half + i], s = sign * p.sin[pos * p.half + i];
      const float a = cuda::to_float(xh[i]), b2 = cuda::to_float(xh[i + p.half]);
      // Unfused products, as the CPU loops and the reference compute them.
      oh[i] = cuda::from_float<T>(__fsub_rn(__fmul_rn(a, c), __fmul_rn(b2, s)));
      oh[i + p.half] = cuda::from_float<T>(__fadd_rn(__fmul_rn(b2, c), __fmul_rn(a, s)));
    } else {
      const int64_t j = i + p.half;  // pass-through dims [2*half, head_dim)
      oh[j] = xh[j];
    }
  }
}

}  // namespace

int launch_rope(const RopeParams& p, void* stream) {
  const int64_t total = p.batch * p.seq * p.heads * (p.head_dim - p.half);
  if (total == 0) return 0;
  return cuda::dispatch(p.dtype, [&](auto t) {
    rope_kernel<decltype(t)><<<cuda::grid_for(total, kThreads), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(p);
  });
}

}  // namespace tailor::kernels
