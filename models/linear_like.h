// The seam LoRA uses: every projection in the decoder is a LinearLike module held by pointer, so the
// lora code can swap it for a wrapper (LoRA, DoRA, a quantized base) without the decoder knowing.
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include <optional>

namespace tailor::models {

class LinearLike : public torch::nn::Module {
 public:
  // x [..., in_features] -> [..., out_features]
  virtual at::Tensor forward(const at::Tensor& x) = 0;
  virtual int64_t in_features() const = 0;
  virtual int64_t out_features() const = 0;
};

// The plain projection: y = x W^T + b, with W [out, in] registered as "weight" (and "bias"), the
// names HF checkpoints use.
class DenseLinear : public LinearLike {
 public:
  DenseLinear(int64_t in_features, int64_t out_features, bool bias, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& x) override;
  int64_t in_features() const override { return weight.size(1); }
  int64_t out_features() const override { return weight.size(0); }

  at::Tensor weight;  // [out, in]
  at::Tensor bias;    // [out] or undefined
};

}  // namespace tailor::models
