#include "kernels/gguf_dequant.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include "core/build_info.h"
#include "formats/gguf_blocks.h"
#include "kernels/dispatch.h"
#include "kernels/gguf_dequant_launch.h"
#include "kernels/gguf_values.h"

#ifdef TAILOR_WITH_CUDA
#include <c10/cuda/CUDAGuard.h>
#endif

namespace tailor::kernels {
namespace {

void reference_dequantize(uint32_t type, const at::Tensor& blocks, int64_t cols, at::Tensor& out,
                          const at::Tensor& row_order) {
  const int64_t rows = blocks.size(0), row_bytes = blocks.size(1);
  const bool direct = out.scalar_type() == at::kFloat && !row_order.defined();
  at::Tensor staging = direct ? out : at::empty({rows, cols}, at::kFloat);
  const auto* src = reinterpret_cast<const std::byte*>(blocks.data_ptr<uint8_t>());
  float* dst = staging.data_ptr<float>();
  at::parallel_for(0, rows, 16, [&](int64_t r0, int64_t r1) {
    formats::dequantize_blocks(static_cast<formats::GgufType>(type), src + r0 * row_bytes, dst + r0 * cols,
                               (r1 - r0) * cols);
  });
  if (direct) return;
  if (row_order.defined()) staging = staging.index_select(0, row_order);
  out.copy_(staging);
}

}  // namespace

bool gguf_dequantize_supported(uint32_t ggml_type) { return gguf::layout(ggml_type).block_size > 0; }

void gguf_dequantize_into(uint32_t type, const at::Tensor& blocks, int64_t cols, at::Tensor& out,
                          const at::Tensor& row_order, KernelMode mode) {
  const formats::GgufTypeInfo* info = formats::gguf_type_info(type);
  TORCH_CHECK(info && info->dequantizable, "gguf_dequantize: GGUF type ", type, " cannot be dequantized");
  TORCH_CHECK(blocks.dim() == 2 && blocks.scalar_type() == at::kByte && blocks.is_contiguous(),
              "gguf_dequantize: blocks must be contiguous uint8 [rows, row_bytes], got ", blocks.sizes());
  const int64_t rows = blocks.size(0);
  TORCH_CHECK(cols % info->block_size == 0 && blocks.size(1) == cols / info->block_size * int64_t(info->type_size),
              "gguf_dequantize: ", blocks.size(1), " bytes per row do not hold ", cols, " elements of ", info->name);
  TORCH_CHECK(out.is_contiguous() && out.dim() == 2 && out.size(0) == rows && out.size(1) == cols &&
                  out.device() == blocks.device(),
              "gguf_dequantize: out must be contiguous [", rows, ", ", cols, "] on ", blocks.device());
  TORCH_CHECK(!row_order.defined() || (row_order.dim() == 1 && row_order.size(0) == rows &&
                                       row_order.scalar_type() == at::kLong && row_order.is_contiguous() &&
                                       row_order.device() == blocks.device()),
              "gguf_dequantize: row order must be contiguous int64 [", rows, "] on ", blocks.device());
  if (row_order.defined() && !row_order.is_cuda() && rows > 0)
    TORCH_CHECK(row_order.min().item<int64_t>() >= 0 && row_order.max().item<int64_t>() < rows,
                "gguf_dequantize: row order entries must lie in [0, ", rows, ")");
  if (mode == KernelMode::reference) {
    TORCH_CHECK(!blocks.is_cuda(), "gguf_dequantize: the reference runs on CPU only");
    reference_dequantize(type, blocks, cols, out, row_order);
    return;
  }
  TORCH_CHECK(gguf_dequantize_supported(type), "gguf_dequantize: no fused kernel for ", info->name);
  GgufDequantParams p{blocks.data_ptr<uint8_t>(), row_order.defined() ? row_order.data_ptr<int64_t>() : nullptr,
                      out.data_ptr(),           rows,
                      cols,                     blocks.size(1),
                      type,                     kernel_dtype(out, "gguf_dequantize")};
  TORCH_CHECK(p.dtype != KernelDtype::f64, "gguf_dequantize: out must be float32 or bfloat16");
  if (blocks.is_cuda()) {
#ifdef TAILOR_WITH_CUDA
    c10::cuda::CUDAGuard guard(blocks.device());
#endif
    check_launch(launch_gguf_dequantize(p, cuda_stream_for(out, "gguf_dequantize")), "gguf_dequantize");
  } else {
    gguf_dequantize_cpu(p);
  }
}

}  // namespace tailor::kernels
