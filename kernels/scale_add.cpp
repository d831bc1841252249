#include "kernels/scale_add.h"

#include <ATen/ATen.h>

#include "core/build_info.h"
#include "kernels/scale_add_launch.h"

#ifdef TAILOR_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#endif

namespace tailor::kernels {

at::Tensor scale_add_reference(const at::Tensor& x, const at::Tensor& y, double alpha) {
  return y + alpha * x;
}

at::Tensor scale_add(const at::Tensor& x, const at::Tensor& y, double alpha) {
  TORCH_CHECK(x.sizes() == y.sizes(), "scale_add: x and y shapes differ: ", x.sizes(), " vs ", y.sizes());
  TORCH_CHECK(x.device() == y.device(), "scale_add: x and y are on different devices");
  if (!x.is_cuda()) return scale_add_reference(x, y, alpha);
#ifdef TAILOR_WITH_CUDA
  TORCH_CHECK(x.scalar_type() == at::kFloat && y.scalar_type() == at::kFloat, "scale_add: CUDA path takes float32");
  c10::cuda::CUDAGuard guard(x.device());
  auto xc = x.contiguous(), yc = y.contiguous();
  auto out = at::empty_like(yc);
  ScaleAddParams p{xc.data_ptr<float>(), yc.data_ptr<float>(), out.data_ptr<float>(), xc.numel(), float(alpha)};
  int err = launch_scale_add(p, at::cuda::getCurrentCUDAStream().stream());
  TORCH_CHECK(err == 0, "scale_add: CUDA launch failed with error ", err);
  return out;
#else
  TORCH_CHECK(false, "scale_add: tailor was built without CUDA kernels");
#endif
}

}  // namespace tailor::kernels
