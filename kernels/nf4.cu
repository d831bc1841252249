// NF4 dequantization on CUDA: one thread per packed byte (two outputs), codes in shared memory.
#include "kernels/cuda_common.cuh"
#include "kernels/nf4_launch.h"

namespace tailor::kernels {
namespace {

constexpr int kThreads = 256;

template <typename T>
__global__ void nf4_dequantize_kernel(Nf4DequantizeParams p) {
  __shared__ float nf4[16];
  __shared__ float dynamic[256];
  if (threadIdx.x < 16) nf4[threadIdx.x] = p.nf4_code[threadIdx.x];
  if (p.absmax_q)
    for (int i = threadIdx.x; i < 256; i += blockDim.x) dynamic[i] = p.dynamic_code[i];
  __syncthreads();
  T* out = static_cast<T*>(p.out);
  const int64_t bytes = (p.n + 1) / 2;
  for (int64_t j = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; j < bytes; j += int64_t(gridDim.x) * blockDim.x) {
    const int64_t i = 2 * j, b = i / p.blocksize;  // blocksize is even: both elements share a block
    const float scale = p.absmax_q ? dynamic[p.absmax_q[b]] * p.nested_absmax[b / p.nested_blocksize] + p.nested_offset
                                   : p.absmax[b];
    const uint8_t byte = p.packed[j];
    out[i] = cuda::from_float<T>(nf4[byte >> 4] * scale);
    if (i + 1 < p.n) out[i + 1] = cuda::from_float<T>(nf4[byte & 0x0F] * scale);
  }
}

}  // namespace

int launch_nf4_dequantize(const Nf4DequantizeParams& p, void* stream) {
  const int64_t bytes = (p.n + 1) / 2;
  if (bytes == 0) return 0;
  return cuda::dispatch(p.dtype, [&](auto t) {
    nf4_dequantize_kernel<decltype(t)><<<cuda::grid_for(bytes, kThreads), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(p);
  });
}

}  // namespace tailor::kernels
