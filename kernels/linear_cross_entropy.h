// lm_head + cross-entropy without the [tokens x vocab] logits: the tokens are cut into chunks, each
// chunk's logits are computed, reduced to a log-sum-exp and dropped; backward recomputes them chunk by
// chunk and turns them in place into the logits gradient before the two matmuls that consume it. With a
// frozen weight (LoRA) the hidden gradient is taken in forward instead, from the logits already at hand.
#pragma once

#include <ATen/core/Tensor.h>

#include "kernels/kernel_mode.h"

namespace tailor::kernels {

struct LinearCrossEntropyOptions {
  int64_t ignore_index = -100;
  // Tokens per chunk; 0 picks about 2^26 logits (256 MiB in float32) per chunk.
  int64_t chunk_tokens = 0;
};

// hidden [..., C], weight [V, C] (the lm_head, or the tied embedding), labels [...] int64 (already shifted;
// ignore_index entries count for nothing). Returns the mean over counted tokens like torch's
// cross_entropy (NaN when none is counted), as a float32 scalar (float64 for float64 inputs).
// Differentiable in hidden and weight. fused: peak extra memory is one chunk of logits.
at::Tensor linear_cross_entropy(const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& labels,
                                KernelMode mode, const LinearCrossEntropyOptions& options = {});

// at::matmul then cross_entropy on float32-upcast logits (as transformers' loss does).
at::Tensor linear_cross_entropy_reference(const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& labels,
                                          int64_t ignore_index = -100);

}  // namespace tailor::kernels
