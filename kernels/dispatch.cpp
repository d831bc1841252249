#include "kernels/dispatch.h"

#include <c10/util/Exception.h>

#include "core/build_info.h"

#ifdef TAILOR_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <cuda_runtime.h>
#endif

namespace tailor::kernels {

KernelDtype kernel_dtype(const at::Tensor& t, const char* op) {
  if (t.scalar_type() == at::kFloat) return KernelDtype::f32;
  if (t.scalar_type() == at::kBFloat16) return KernelDtype::bf16;
  if (t.scalar_type() == at::kDouble && !t.is_cuda()) return KernelDtype::f64;
  TORCH_CHECK(false, op, ": fused kernels take float32 or bfloat16 (float64 on CPU), got ", t.scalar_type(), " on ",
              t.device());
}

at::ScalarType accumulate_type(const at::Tensor& t) { return t.scalar_type() == at::kDouble ? at::kDouble : at::kFloat; }

void* cuda_stream_for(const at::Tensor& t, const char* op) {
#ifdef TAILOR_WITH_CUDA
  (void)op;
  return at::cuda::getCurrentCUDAStream(t.device().index()).stream();
#else
  (void)t;
  TORCH_CHECK(false, op, ": tailor was built without CUDA kernels");
#endif
}

void check_launch(int cuda_error, const char* op) {
#ifdef TAILOR_WITH_CUDA
  TORCH_CHECK(cuda_error == 0, op, ": CUDA launch failed: ", cudaGetErrorString(cudaError_t(cuda_error)));
#else
  TORCH_CHECK(cuda_error == 0, op, ": launch failed with error ", cuda_error);
#endif
}

}  // namespace tailor::kernels
