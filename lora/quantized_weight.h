// A frozen base weight kept in a compressed form (NF4 blocks, GGUF blocks) and expanded only when a
// matmul needs it. LoraLinear neither knows nor cares which format sits behind this interface.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

namespace tailor::lora {

class QuantizedWeight {
 public:
  virtual ~QuantizedWeight() = default;

  virtual int64_t out_features() const = 0;
  virtual int64_t in_features() const = 0;
  virtual std::string format() const = 0;  // "nf4", "q4_0", ...
  virtual int64_t storage_bytes() const = 0;
  virtual at::Device device() const = 0;

  // Writes the dense [out_features, in_features] weight into `out` (contiguous, floating dtype; the
  // dtype and device of `out` pick the compute path).
  virtual void dequantize_into(at::Tensor& out) const = 0;

  // A fresh dense copy on device().
  at::Tensor dequantize(at::ScalarType dtype) const;
};

}  // namespace tailor::lora
