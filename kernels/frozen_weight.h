// A frozen base weight [out, in] that a LoRA linear multiplies by: dense, or quantized (NF4, GGUF blocks)
// and dequantized on demand into a buffer the caller owns. The LoRA linear neither knows nor cares which.
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>

namespace tailor::kernels {

struct FrozenWeight {
  int64_t out_features = 0, in_features = 0;
  at::Tensor dense;  // set for dense bases
  // Set for quantized bases: fills `into` ([out, in], any float dtype, any device) with the weight.
  std::function<void(at::Tensor& into)> dequantize_into;

  static FrozenWeight from_dense(const at::Tensor& weight);
  static FrozenWeight from_dequantizer(int64_t out_features, int64_t in_features,
                                       std::function<void(at::Tensor& into)> dequantize_into);

  // The weight in dtype on device. Dense bases: a cast view or copy. Quantized bases: with
  // reuse_scratch, a per-thread scratch buffer (valid until the next materialize of any quantized weight on
  // this thread: fused ops use it and drop it at once); without, a fresh tensor.
  at::Tensor materialize(at::ScalarType dtype, at::Device device, bool reuse_scratch) const;
};

}  // namespace tailor::kernels
