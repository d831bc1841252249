// NF4 dequantization on CPU: blocks in parallel, the block scale decoded once per block.
#include <ATen/Parallel.h>

#include <algorithm>

#include "kernels/cpu_isa.h"
#include "kernels/cpu_vec.h"
#include "kernels/nf4_launch.h"

namespace tailor::kernels::TAILOR_CPU_ISA {
namespace {

template <typename T>
void dequantize(const Nf4DequantizeParams& p) {
  T* out = static_cast<T*>(p.out);
  const int64_t blocks = (p.n + p.blocksize - 1) / p.blocksize;
  at::parallel_for(0, blocks, 64, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      const float scale = p.absmax_q ? p.dynamic_code[p.absmax_q[b]] * p.nested_absmax[b / p.nested_blocksize] + p.nested_offset
                                     : p.absmax[b];
      const int64_t stop = std::min(p.n, (b + 1) * p.blocksize);
      for (int64_t i = b * p.blocksize; i < stop; ++i) {
        const uint8_t byte = p.packed[i >> 1];
        out[i] = T(p.nf4_code[(i & 1) ? (byte & 0x0F) : (byte >> 4)] * scale);
      }
    }
  });
}

}  // namespace

void nf4_dequantize_cpu(const Nf4DequantizeParams& p) {
  if (p.dtype == KernelDtype::bf16) return dequantize<c10::BFloat16>(p);
  if (p.dtype == KernelDtype::f64) return dequantize<double>(p);
  dequantize<float>(p);
}

}  // namespace tailor::kernels::TAILOR_CPU_ISA
