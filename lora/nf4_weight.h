// QLoRA's frozen base: a bitsandbytes-compatible NF4 weight (kernels/nf4.h does the quantizing and the
// fused dequantization) behind the QuantizedWeight interface LoraLinear consumes.
#pragma once

#include <memory>

#include "kernels/nf4.h"
#include "lora/quantized_weight.h"

namespace tailor::lora {

class Nf4QuantizedWeight : public QuantizedWeight {
 public:
  explicit Nf4QuantizedWeight(std::shared_ptr<const kernels::Nf4Weight> weight);
  // Quantizes a dense [out, in] weight: blocks of `blocksize`, absmax double-quantized when asked.
  static std::shared_ptr<Nf4QuantizedWeight> quantize(const at::Tensor& weight, int64_t blocksize = 64,
                                                      bool double_quant = true);

  int64_t out_features() const override { return weight_->shape.at(0); }
  int64_t in_features() const override { return weight_->shape.at(1); }
  std::string format() const override { return "nf4"; }
  int64_t storage_bytes() const override;
  at::Device device() const override { return weight_->packed.device(); }
  void dequantize_into(at::Tensor& out) const override;

  const kernels::Nf4Weight& nf4() const { return *weight_; }

 private:
  std::shared_ptr<const kernels::Nf4Weight> weight_;
};

}  // namespace tailor::lora
