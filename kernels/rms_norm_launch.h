// Plain launcher interface of RMSNorm, shared by the CPU loops (rms_norm_cpu.cpp), the CUDA kernels
// (rms_norm.cu) and the LibTorch wrapper (rms_norm.cpp).
#pragma once

#include <cstdint>

#include "kernels/launch_types.h"

namespace tailor::kernels {

// y = x * rstd * (w or 1 + w), rstd = 1 / sqrt(mean(x^2) + eps), per row of `cols` elements.
struct RmsNormParams {
  const void* x;        // [rows, cols], dtype
  const void* weight;  // [cols], float32 (float64 when dtype is f64)
  void* y;             // [rows, cols], dtype
  void* rstd;          // [rows], same type as weight
  int64_t rows, cols;
  float eps;
  bool unit_offset;  // Gemma: scale by (1 + w)
  KernelDtype dtype;
};

struct RmsNormBackwardParams {
  const void* grad_y;  // [rows, cols], dtype
  const void* x;       // [rows, cols], dtype
  const void* weight;          // as in RmsNormParams
  const void* rstd;            // [rows]
  void* grad_x;                // [rows, cols], dtype
  void* grad_weight_partial;   // [partials, cols], weight's type: one row per worker, summed by the caller
  int64_t rows, cols, partials;
  bool unit_offset;
  KernelDtype dtype;
};

void rms_norm_forward_cpu(const RmsNormParams& p);
void rms_norm_backward_cpu(const RmsNormBackwardParams& p);

// CUDA launchers: stream is a cudaStream_t; they return a cudaError_t as int.
int launch_rms_norm_forward(const RmsNormParams& p, void* stream);
int launch_rms_norm_backward(const RmsNormBackwardParams& p, void* stream);
// How many grad_weight partial rows launch_rms_norm_backward writes for `rows` rows.
int64_t rms_norm_backward_cuda_partials(int64_t rows);

}  // namespace tailor::kernels
