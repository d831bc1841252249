// GGUF block dequantization on CUDA: one thread per output element, decoding it from its block with the
// same float32 operations as the CPU loops (gguf_values.h).
#include "kernels/cuda_common.cuh"
#include "kernels/gguf_dequant_launch.h"
#include "kernels/gguf_values.h"

namespace tailor::kernels {
namespace {

constexpr int kThreads = 256;

template <typename T, uint32_t kType>
__global__ void gguf_dequantize_kernel(GgufDequantParams p) {
  const gguf::Layout layout = gguf::layout(p.type);
  T* out = static_cast<T*>(p.out);
  const int64_t total = p.rows * p.cols;
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < total; idx += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = idx / p.cols, c = idx % p.cols;
    const uint8_t* block = p.blocks + (p.row_order ? p.row_order[r] : r) * p.row_bytes +
                           (c / layout.block_size) * layout.type_size;
    const int within = int(c % layout.block_size), g = within / 32, l = within % 32;
    out[idx] = cuda::from_float<T>(gguf::value(gguf::group_scale<kType>(block, g), l, gguf::quant<kType>(block, g, l)));
  }
}

template <typename T>
void launch_type(const GgufDequantParams& p, cudaStream_t stream) {
  const int64_t total = p.rows * p.cols;
  const int grid = cuda::grid_for(total, kThreads, 1 << 20);
  switch (p.type) {
    case gguf::q4_0: gguf_dequantize_kernel<T, gguf::q4_0><<<grid, kThreads, 0, stream>>>(p); break;
    case gguf::q4_1: gguf_dequantize_kernel<T, gguf::q4_1><<<grid, kThreads, 0, stream>>>(p); break;
    case gguf::q8_0: gguf_dequantize_kernel<T, gguf::q8_0><<<grid, kThreads, 0, stream>>>(p); break;
    case gguf::q4_k: gguf_dequantize_kernel<T, gguf::q4_k><<<grid, kThreads, 0, stream>>>(p); break;
    case gguf::q5_k: gguf_dequantize_kernel<T, gguf::q5_k><<<grid, kThreads, 0, stream>>>(p); break;
    case gguf::q6_k: gguf_dequantize_kernel<T, gguf::q6_k><<<grid, kThreads, 0, stream>>>(p); break;
  }
}

}  // namespace

int launch_gguf_dequantize(const GgufDequantParams& p, void* stream) {
  if (p.rows * p.cols == 0) return 0;
  return cuda::dispatch(p.dtype, [&](auto t) { launch_type<decltype(t)>(p, static_cast<cudaStream_t>(stream)); });
}

}  // namespace tailor::kernels
