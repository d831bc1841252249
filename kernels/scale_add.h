// y + alpha * x, element-wise: the smallest real kernel, kept as the CUDA path's smoke test (build,
// launch on LibTorch's current stream, compare with the LibTorch reference).
#pragma once

#include <ATen/core/Tensor.h>

namespace tailor::kernels {

at::Tensor scale_add_reference(const at::Tensor& x, const at::Tensor& y, double alpha);

// Dispatches on device: CUDA tensors run the hand-written kernel, CPU tensors the reference.
at::Tensor scale_add(const at::Tensor& x, const at::Tensor& y, double alpha);

}  // namespace tailor::kernels
