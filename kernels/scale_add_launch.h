// Plain launcher interface shared by scale_add.cpp and scale_add.cu; no LibTorch types so nvcc stays fast.
#pragma once

#include <cstdint>

namespace tailor::kernels {

struct ScaleAddParams {
  const float* x;
  const float* y;
  float* out;
  int64_t n;
  float alpha;
};

// stream is a cudaStream_t; returns a cudaError_t as int so this header needs no CUDA includes.
int launch_scale_add(const ScaleAddParams& p, void* stream);

}  // namespace tailor::kernels
