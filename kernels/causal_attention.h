// Causal self-attention of a training forward (no cache, no padding mask, queries = keys), with grouped
// query heads: out = softmax(scale · q kᵀ + causal mask) v.
#pragma once

#include <ATen/core/Tensor.h>

#include "kernels/kernel_mode.h"

namespace tailor::kernels {

// q [B, H, T, D], k and v [B, KV, T, D] with H a multiple of KV (any strides); returns [B, H, T, D] (a
// transposed view of a [B, T, H, D] buffer, so the decoder's merge of the heads is free).
// fused on CPU: blocks of 64 queries; each block's scores against the keys up to its last query are one
// batched GEMM in the input dtype (bfloat16 scores for bfloat16 inputs, as transformers' eager attention),
// softmax in float32 in place, then one GEMM with v; backward recomputes the scores from the saved
// log-sum-exp, so nothing [T, T] outlives a block. On CUDA, fused is SDPA's flash/efficient kernel.
at::Tensor causal_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale, KernelMode mode);

// Plain LibTorch ops as transformers' eager attention: matmul, mask, softmax in float32, matmul.
at::Tensor causal_attention_reference(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale);

}  // namespace tailor::kernels
