#include "lora/frozen_linear.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/custom_function.h>

#include <cstdint>

namespace tailor::lora {
namespace {

struct FrozenQuantizedLinear : public torch::autograd::Function<FrozenQuantizedLinear> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, const QuantizedWeight* weight) {
    ctx->saved_data["weight"] = static_cast<int64_t>(reinterpret_cast<intptr_t>(weight));
    ctx->saved_data["dtype"] = static_cast<int64_t>(x.scalar_type());
    return at::linear(x, weight->dequantize(x.scalar_type()));
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    auto* weight = reinterpret_cast<const QuantizedWeight*>(static_cast<intptr_t>(ctx->saved_data["weight"].toInt()));
    auto dtype = static_cast<at::ScalarType>(ctx->saved_data["dtype"].toInt());
    const at::Tensor& grad_y = grad_outputs[0];
    return {at::matmul(grad_y, weight->dequantize(dtype).to(grad_y.scalar_type())), at::Tensor()};
  }
};

}  // namespace

at::Tensor frozen_quantized_linear(const at::Tensor& x, const QuantizedWeight& weight) {
  return FrozenQuantizedLinear::apply(x, &weight);
}

}  // namespace tailor::lora
