// Training directly on a GGUF base as loaded: a Q4_0/Q4_1/Q8_0/K-quant (or any dequantizable type) weight
// stays in its blocks, inside the mapped file, and is expanded per use by kernels' fused GGUF dequantizer
// (Q4_0, Q4_1, Q8_0, Q4_K, Q5_K, Q6_K; straight into the target dtype and row order, on CPU or CUDA) or,
// for the other types, formats' block dequantizers. Rows come out in GGUF order unless a row order is
// given (llama's permuted Q/K rows). On CUDA the blocks are copied to the device once and kept there.
#pragma once

#include <map>
#include <memory>
#include <mutex>

#include "formats/gguf.h"
#include "lora/quantized_weight.h"

namespace tailor::lora {

class GgufQuantizedWeight : public QuantizedWeight {
 public:
  // `tensor` must belong to `file` (which keeps its bytes mapped) and be 2-D. `row_order`, if defined,
  // is an int64 [out] index: output row i is GGUF row row_order[i].
  GgufQuantizedWeight(std::shared_ptr<const formats::GgufFile> file, const formats::GgufTensorInfo& tensor,
                      at::Tensor row_order = {});

  int64_t out_features() const override { return tensor_.rows(); }
  int64_t in_features() const override { return tensor_.row_length(); }
  std::string format() const override;
  int64_t storage_bytes() const override { return static_cast<int64_t>(tensor_.nbytes); }
  at::Device device() const override { return at::kCPU; }
  void dequantize_into(at::Tensor& out) const override;

 private:
  std::shared_ptr<const formats::GgufFile> file_;
  formats::GgufTensorInfo tensor_;
  at::Tensor row_order_;
  at::Tensor blocks_;  // uint8 [rows, row bytes] over the mapped file

  struct DeviceCopy {
    at::Tensor blocks, row_order;
  };
  const DeviceCopy& on_device(at::Device device) const;
  mutable std::mutex device_mutex_;
  mutable std::map<std::string, DeviceCopy> device_copies_;  // by device string
};

}  // namespace tailor::lora
