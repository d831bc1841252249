#include "lora/nf4_weight.h"

#include <ATen/ATen.h>

namespace tailor::lora {

Nf4QuantizedWeight::Nf4QuantizedWeight(std::shared_ptr<const kernels::Nf4Weight> weight) : weight_(std::move(weight)) {
  TORCH_CHECK(weight_ && weight_->shape.size() == 2, "NF4 LoRA base must be a 2-D weight");
}

std::shared_ptr<Nf4QuantizedWeight> Nf4QuantizedWeight::quantize(const at::Tensor& weight, int64_t blocksize,
                                                                 bool double_quant) {
  return std::make_shared<Nf4QuantizedWeight>(
      std::make_shared<const kernels::Nf4Weight>(kernels::nf4_quantize(weight, blocksize, double_quant)));
}

int64_t Nf4QuantizedWeight::storage_bytes() const {
  int64_t bytes = weight_->packed.nbytes() + weight_->absmax.nbytes();
  if (weight_->double_quantized()) bytes += weight_->nested_absmax.nbytes();
  return bytes;
}

void Nf4QuantizedWeight::dequantize_into(at::Tensor& out) const {
  // The fused kernel writes float32 or bfloat16; other dtypes go through a float32 buffer.
  if (out.is_contiguous() && (out.scalar_type() == at::kFloat || out.scalar_type() == at::kBFloat16)) {
    kernels::nf4_dequantize_into(*weight_, out);
    return;
  }
  at::Tensor staging = at::empty(out.sizes(), out.options().dtype(at::kFloat).memory_format(at::MemoryFormat::Contiguous));
  kernels::nf4_dequantize_into(*weight_, staging);
  out.copy_(staging);
}

}  // namespace tailor::lora
