// Plain launcher interface of the causal attention's row loops (causal_attention_cpu.cpp,
// causal_attention.cpp). The attention runs one block of query rows at a time: scores of the block
// against every key up to its last query come from one batched GEMM, these loops turn them into
// probabilities (forward) or into the scores' gradient (backward) in place.
#pragma once

#include <cstdint>

#include "kernels/launch_types.h"

namespace tailor::kernels {

// Scores block: `matrices` matrices (batch x kv head) of `groups * block_rows` rows (the query heads that
// share a kv head, each with block_rows consecutive queries from first_query) by `keys` columns. Row
// (g, i) is query first_query + i and sees keys 0 .. first_query + i; later keys get probability 0.
// With first_key ([batch, seq_len] int64, nullable), query t of batch row b = m / kv_heads sees only keys
// first_key[b, t] .. t (packed documents, sliding windows). The block's columns are keys key_begin ..
// key_begin + keys - 1.
struct CausalBlock {
  int64_t matrices, groups, block_rows, first_query, keys;
  int64_t seq_len;  // row stride of lse/delta: [matrices, groups, seq_len] float32 (float64 for f64)
  double scale;     // applied to the raw scores
  KernelDtype dtype;
  const int64_t* first_key = nullptr;
  int64_t kv_heads = 1, key_begin = 0;
};

// scores -> softmax(scale * scores) in place; lse[m, g, first_query + i] = logsumexp of the row.
struct CausalSoftmaxParams {
  CausalBlock block;
  void* scores;
  void* lse;
};

// scores (recomputed raw scores) -> P = exp(scale * s - lse); grad (dP = dO V^T) -> dS = P (dP - delta) scale,
// both in place; delta[m, g, t] = sum over d of dO * O.
struct CausalSoftmaxBackwardParams {
  CausalBlock block;
  void* scores;
  void* grad;
  const void* lse;
  const void* delta;
};

void causal_softmax_forward_cpu(const CausalSoftmaxParams& p);
void causal_softmax_backward_cpu(const CausalSoftmaxBackwardParams& p);

}  // namespace tailor::kernels
