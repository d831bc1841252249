// NF4 with double quantization, byte-compatible with bitsandbytes (formats.md §7): blocks of 64 along the
// row-major flattened weight, first element of each pair in the high nibble, block absmax quantized to
// 8 bits with the signed dynamic code in blocks of 256 around their mean.
#pragma once

#include <ATen/core/Tensor.h>

#include <memory>
#include <vector>

#include "kernels/frozen_weight.h"
#include "kernels/kernel_mode.h"

namespace tailor::kernels {

struct Nf4Weight {
  at::Tensor packed;         // uint8 [ceil(n / 2), 1]               (P.weight)
  at::Tensor absmax;         // float32 [blocks], or uint8 [blocks] when double-quantized  (P.weight.absmax)
  at::Tensor nested_absmax;  // float32 [ceil(blocks / 256)], double quantization only
  double nested_offset = 0;  // mean of the block absmax, double quantization only
  std::vector<int64_t> shape;
  int64_t blocksize = 64, nested_blocksize = 256;
  bool double_quantized() const { return nested_absmax.defined(); }
  int64_t numel() const;
};

// The 16 NF4 values and bitsandbytes' 256-value signed dynamic code, float32.
at::Tensor nf4_code();
at::Tensor dynamic_code();

// Quantizes any float tensor (rounded through float32 as bitsandbytes does). Blocksize 32..4096, a power of two.
// Runs on the tensor's device with LibTorch ops; the result lives there too.
Nf4Weight nf4_quantize(const at::Tensor& weight, int64_t blocksize = 64, bool double_quant = true);

// Dequantized weight with the original shape, in dtype (float32 or bfloat16; float64 on CPU), on the
// packed tensor's device. fused: the CPU or CUDA kernel; reference: LibTorch gather and multiply.
at::Tensor nf4_dequantize(const Nf4Weight& w, at::ScalarType dtype, KernelMode mode = KernelMode::fused);
// Same, written into `into` (n elements, contiguous, float32/bfloat16) with the fused kernel.
void nf4_dequantize_into(const Nf4Weight& w, at::Tensor& into);

// A LoRA base that dequantizes this NF4 weight (2-D) into the LoRA linear's scratch buffer on demand.
FrozenWeight nf4_frozen_weight(std::shared_ptr<const Nf4Weight> w);

}  // namespace tailor::kernels
