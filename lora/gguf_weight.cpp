#include "lora/gguf_weight.h"

#include <ATen/ATen.h>

#include "core/error.h"
#include "formats/gguf_blocks.h"
#include "kernels/gguf_dequant.h"

namespace tailor::lora {

GgufQuantizedWeight::GgufQuantizedWeight(std::shared_ptr<const formats::GgufFile> file,
                                         const formats::GgufTensorInfo& tensor, at::Tensor row_order)
    : file_(std::move(file)), tensor_(tensor), row_order_(std::move(row_order)) {
  if (tensor_.ne.size() != 2) throw InputError("GGUF tensor '" + tensor_.name + "': a LoRA base must be 2-D");
  const formats::GgufTypeInfo* info = formats::gguf_type_info(static_cast<uint32_t>(tensor_.type));
  if (!info || !info->dequantizable)
    throw InputError("GGUF tensor '" + tensor_.name + "': type " + format() + " cannot be dequantized by tailor");
  if (row_order_.defined() && (row_order_.dim() != 1 || row_order_.size(0) != tensor_.rows()))
    throw std::invalid_argument("GGUF tensor '" + tensor_.name + "': row order must list every row once");
  if (row_order_.defined()) row_order_ = row_order_.to(at::kLong).contiguous();
  const int64_t rows = tensor_.rows(), row_bytes = rows > 0 ? int64_t(tensor_.nbytes) / rows : 0;
  // The mapped bytes are only ever read; from_blob needs a non-const pointer.
  blocks_ = rows * row_bytes > 0 ? at::from_blob(const_cast<std::byte*>(tensor_.data), {rows, row_bytes}, at::kByte)
                                 : at::empty({rows, row_bytes}, at::kByte);
}

std::string GgufQuantizedWeight::format() const {
  std::string_view name = formats::gguf_type_name(tensor_.type);
  return name.empty() ? "gguf type " + std::to_string(static_cast<uint32_t>(tensor_.type)) : std::string(name);
}

const GgufQuantizedWeight::DeviceCopy& GgufQuantizedWeight::on_device(at::Device device) const {
  std::lock_guard<std::mutex> lock(device_mutex_);
  auto [it, added] = device_copies_.try_emplace(device.str());
  if (added) {
    it->second.blocks = blocks_.to(device);
    if (row_order_.defined()) it->second.row_order = row_order_.to(device);
  }
  return it->second;
}

void GgufQuantizedWeight::dequantize_into(at::Tensor& out) const {
  const uint32_t type = static_cast<uint32_t>(tensor_.type);
  const int64_t cols = tensor_.row_length();
  const bool fused_target = out.is_contiguous() && (out.scalar_type() == at::kFloat || out.scalar_type() == at::kBFloat16);
  if (kernels::gguf_dequantize_supported(type) && fused_target) {
    if (out.is_cuda()) {
      const DeviceCopy& copy = on_device(out.device());
      kernels::gguf_dequantize_into(type, copy.blocks, cols, out, copy.row_order, kernels::KernelMode::fused);
    } else {
      kernels::gguf_dequantize_into(type, blocks_, cols, out, row_order_, kernels::KernelMode::fused);
    }
    return;
  }
  // Other types (F16, Q3_K, ...) or targets: formats' dequantizer on CPU, then one copy.
  const bool direct = out.device().is_cpu() && fused_target;
  at::Tensor staging = direct ? out : at::empty({tensor_.rows(), cols}, at::kFloat);
  kernels::gguf_dequantize_into(type, blocks_, cols, staging, row_order_, kernels::KernelMode::reference);
  if (!direct) out.copy_(staging);
}

}  // namespace tailor::lora
