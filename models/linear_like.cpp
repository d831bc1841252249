#include "models/linear_like.h"

#include <ATen/ATen.h>

namespace tailor::models {

DenseLinear::DenseLinear(int64_t in_features, int64_t out_features, bool has_bias, const at::TensorOptions& options) {
  weight = register_parameter("weight", at::zeros({out_features, in_features}, options), /*requires_grad=*/false);
  if (has_bias) bias = register_parameter("bias", at::zeros({out_features}, options), /*requires_grad=*/false);
}

at::Tensor DenseLinear::forward(const at::Tensor& x) { return at::linear(x, weight, bias); }

}  // namespace tailor::models
