// Helpers the LibTorch wrappers of every op share: dtype mapping, the current CUDA stream, launch checks.
#pragma once

#include <ATen/core/Tensor.h>

#include "kernels/launch_types.h"

namespace tailor::kernels {

// float32 or bfloat16 (or float64 on CPU); anything else is rejected naming the op.
KernelDtype kernel_dtype(const at::Tensor& t, const char* op);

// What the fused ops accumulate and keep statistics in: float64 for float64 inputs, float32 otherwise.
at::ScalarType accumulate_type(const at::Tensor& t);

// The current CUDA stream of t's device as a cudaStream_t (guards the device for the caller's scope is
// the caller's job). Throws when tailor was built without CUDA kernels.
void* cuda_stream_for(const at::Tensor& t, const char* op);

// Throws with the CUDA error's text when a launcher returned non-zero.
void check_launch(int cuda_error, const char* op);

}  // namespace tailor::kernels
