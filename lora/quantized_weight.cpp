#include "lora/quantized_weight.h"

#include <ATen/ATen.h>

namespace tailor::lora {

at::Tensor QuantizedWeight::dequantize(at::ScalarType dtype) const {
  at::Tensor out = at::empty({out_features(), in_features()}, at::TensorOptions().dtype(dtype).device(device()));
  dequantize_into(out);
  return out;
}

}  // namespace tailor::lora
