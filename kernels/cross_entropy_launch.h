// Plain launcher interface of the row-wise softmax cross-entropy pieces that linear_cross_entropy runs on
// each chunk of logits (cross_entropy_cpu.cpp, cross_entropy.cu, linear_cross_entropy.cpp).
#pragma once

#include <cstdint>

#include "kernels/launch_types.h"

namespace tailor::kernels {

// Per row: lse = logsumexp(logits), loss = lse - logits[label] (0 where label == ignore_index).
// lse and loss are float32 (float64 for f64).
struct CrossEntropyParams {
  const void* logits;     // [rows, vocab], dtype
  const int64_t* labels;  // [rows]
  void* lse;              // [rows]
  void* loss;             // [rows]
  int64_t rows, vocab, ignore_index;
  KernelDtype dtype;
};

// In place: logits become (softmax(logits) - onehot(label)) * scale[0]; ignored rows become 0.
struct CrossEntropyBackwardParams {
  void* logits;           // [rows, vocab], dtype
  const int64_t* labels;  // [rows]
  const void* lse;        // [rows]
  const void* scale;      // [1]: upstream gradient / number of counted tokens
  int64_t rows, vocab, ignore_index;
  KernelDtype dtype;
};

void cross_entropy_forward_cpu(const CrossEntropyParams& p);
void cross_entropy_backward_cpu(const CrossEntropyBackwardParams& p);
int launch_cross_entropy_forward(const CrossEntropyParams& p, void* stream);
int launch_cross_entropy_backward(const CrossEntropyBackwardParams& p, void* stream);

}  // namespace tailor::kernels
