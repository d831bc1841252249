// GGUF block dequantization on CPU: rows in parallel; within a block, each 32-element group decodes its
// scales once, then runs short lane loops (quants, then scale * q + offset) that the compiler vectorizes.
// Compiled with -ffp-contract=off (CMakeLists.txt): the product and the sum stay separate, as in ggml.
#include <ATen/Parallel.h>
#include <c10/util/BFloat16.h>

#include "kernels/cpu_isa.h"
#include "kernels/gguf_dequant_launch.h"
#include "kernels/gguf_values.h"

namespace tailor::kernels::TAILOR_CPU_ISA {
namespace {

template <typename T, uint32_t kType>
void dequantize(const GgufDequantParams& p) {
  const gguf::Layout layout = gguf::layout(p.type);
  const int64_t blocks_per_row = p.cols / layout.block_size, groups = layout.block_size / 32;
  T* out = static_cast<T*>(p.out);
  at::parallel_for(0, p.rows, 1, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const uint8_t* row = p.blocks + (p.row_order ? p.row_order[r] : r) * p.row_bytes;
      T* dst = out + r * p.cols;
      for (int64_t blk = 0; blk < blocks_per_row; ++blk, dst += layout.block_size) {
        const uint8_t* block = row + blk * layout.type_size;
        for (int g = 0; g < groups; ++g) {
          int q[32];  // two loops: in each, `l < 16` is known and the nibble choice folds away
          for (int l = 0; l < 16; ++l) q[l] = gguf::quant<kType>(block, g, l);
          for (int l = 16; l < 32; ++l) q[l] = gguf::quant<kType>(block, g, l);
          const gguf::GroupScale s = gguf::group_scale<kType>(block, g);
          T* y = dst + 32 * g;
          for (int l = 0; l < 16; ++l) y[l] = T(s.low * float(q[l]) + s.offset);
          for (int l = 16; l < 32; ++l) y[l] = T(s.high * float(q[l]) + s.offset);
        }
      }
    }
  });
}

template <typename T>
void dequantize_type(const GgufDequantParams& p) {
  switch (p.type) {
    case gguf::q4_0: return dequantize<T, gguf::q4_0>(p);
    case gguf::q4_1: return dequantize<T, gguf::q4_1>(p);
    case gguf::q8_0: return dequantize<T, gguf::q8_0>(p);
    case gguf::q4_k: return dequantize<T, gguf::q4_k>(p);
    case gguf::q5_k: return dequantize<T, gguf::q5_k>(p);
    case gguf::q6_k: return dequantize<T, gguf::q6_k>(p);
  }
}

}  // namespace

void gguf_dequantize_cpu(const GgufDequantParams& p) {
  if (p.dtype == KernelDtype::bf16) dequantize_type<c10::BFloat16>(p);
  else dequantize_type<float>(p);
}

}  // namespace tailor::kernels::TAILOR_CPU_ISA
