// x Wᵀ for a frozen quantized W that is dequantized in forward and again in backward, so no dense copy of
// W outlives the call (autograd would otherwise keep one per layer until backward).
#pragma once

#include <ATen/core/Tensor.h>

#include "lora/quantized_weight.h"

namespace tailor::lora {

// `weight` must outlive the backward pass of the returned tensor (the LoraLinear owning it does).
at::Tensor frozen_quantized_linear(const at::Tensor& x, const QuantizedWeight& weight);

}  // namespace tailor::lora
