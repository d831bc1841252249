// LoRA linear: y = x W^T (+ b) + scale * (dropout(x) A^T) B^T, W frozen (dense or quantized).
#pragma once

#include <ATen/core/Tensor.h>

#include "kernels/frozen_weight.h"
#include "kernels/kernel_mode.h"

namespace tailor::kernels {

struct LoraLinearArgs {
  double scale = 1.0;    // alpha / r, or alpha / sqrt(r) with rsLoRA
  double dropout = 0.0;  // on the LoRA input only, as PEFT does
  bool training = true;  // dropout applies only while training
};

// x [..., in]; lora_a [r, in]; lora_b [out, r] (x's dtype, or float32 under a bfloat16 x: the reference
// then computes the low-rank path in float32 as PEFT does, the fused op in bfloat16 as autocast does, with
// float32 gradients for A and B); bias [out] or undefined (frozen). Differentiable in x,
// lora_a, lora_b. fused: hand-written backward that saves only x and the rank-r product dropout(x) A^T
// (the dropout mask is regenerated from the saved generator state; a quantized W is dequantized again
// into the scratch buffer), and one GEMM adds the low-rank path onto the base output.
at::Tensor lora_linear(const at::Tensor& x, const FrozenWeight& base, const at::Tensor& bias, const at::Tensor& lora_a,
                       const at::Tensor& lora_b, const LoraLinearArgs& args, KernelMode mode);

// Plain LibTorch ops (at::linear, at::dropout); autograd saves what it saves.
at::Tensor lora_linear_reference(const at::Tensor& x, const FrozenWeight& base, const at::Tensor& bias,
                                 const at::Tensor& lora_a, const at::Tensor& lora_b, const LoraLinearArgs& args);

}  // namespace tailor::kernels
