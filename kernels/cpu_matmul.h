// x wᵀ for float32 on CPU through oneDNN's AVX-512/AVX2 kernels. ATen sends float32 matmuls to MKL,
// which takes its generic AVX2 path on AMD processors: measured on a 2-core AMD EPYC, 2048 x 576 by
// 576 x 1536: MKL 203 GFLOP/s, oneDNN 476 GFLOP/s, same float32 arithmetic (bfloat16 already goes to oneDNN).
#pragma once

#include <ATen/core/Tensor.h>

namespace tailor::kernels {

// x [N, in], w [out, in] (any strides, e.g. a transposed view), bias [out] or undefined -> [N, out].
// float32 CPU tensors use LibTorch's oneDNN linear (mkldnn::_linear_pointwise) when the build has it;
// everything else is at::addmm / at::mm.
at::Tensor linear_nt(const at::Tensor& x, const at::Tensor& w, const at::Tensor& bias = {});

// a [M, m, k], b [M, n, k] -> [M, m, n]: a[i] b[i]ᵀ for each i (float32 CPU: one oneDNN product per i).
at::Tensor batched_nt(const at::Tensor& a, const at::Tensor& b);

// Whether float32 CPU products take the oneDNN path (false: the LibTorch build lacks the op).
bool onednn_float32_linear_available();

}  // namespace tailor::kernels
