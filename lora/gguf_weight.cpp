#include "lora/gguf_weight.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include "core/error.h"
#include "formats/gguf_blocks.h"

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
}

std::string GgufQuantizedWeight::format() const {
  std::string_view name = formats::gguf_type_name(tensor_.type);
  return name.empty() ? "gguf type " + std::to_string(static_cast<uint32_t>(tensor_.type)) : std::string(name);
}

void GgufQuantizedWeight::dequantize_into(at::Tensor& out) const {
  const int64_t rows = tensor_.rows(), cols = tensor_.row_length();
  const bool direct = out.device().is_cpu() && out.scalar_type() == at::kFloat && out.is_contiguous() && !row_order_.defined();
  at::Tensor staging = direct ? out : at::empty({rows, cols}, at::kFloat);
  float* dst = staging.data_ptr<float>();
  // Row ranges dequantize independently; rows are whole blocks (ne[0] % block == 0 is validated on load).
  at::parallel_for(0, rows, 16, [&](int64_t r0, int64_t r1) {
    formats::dequantize_rows(tensor_, r0, r1, dst + r0 * cols);
  });
  if (direct) return;
  if (row_order_.defined()) staging = staging.index_select(0, row_order_);
  out.copy_(staging);
}

}  // namespace tailor::lora
