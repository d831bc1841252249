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
// first_key (optional, int64 [B, T], first_key[b, t] in [0, t]): query t of row b sees keys first_key[b, t]
// .. t only — packed documents (each token sees its own document) and sliding windows. Each block's
// products then start at the earliest key its rows see.
at::Tensor causal_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale, KernelMode mode,
                            const at::Tensor& first_key = {});

// Plain LibTorch ops as transformers' eager attention: matmul, mask, softmax in float32, matmul.
at::Tensor causal_attention_reference(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale,
                                      const at::Tensor& first_key = {});

}  // namespace tailor::kernels
