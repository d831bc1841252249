#include "kernels/rms_norm.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>

#include "core/build_info.h"
#include "kernels/dispatch.h"
#include "kernels/rms_norm_launch.h"

#ifdef TAILOR_WITH_CUDA
#include <c10/cuda/CUDAGuard.h>
#endif

namespace tailor::kernels {
namespace {


struct RmsNormFunction : torch::autograd::Function<RmsNormFunction> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x_in, const at::Tensor& weight,
                            double eps, bool unit_offset) {
    const auto dtype = kernel_dtype(x_in, "rms_norm");
    const int64_t cols = x_in.size(-1);
    TORCH_CHECK(weight.dim() == 1 && weight.size(0) == cols, "rms_norm: weight shape ", weight.sizes(),
                ", expected [", cols, "]");
    auto x = x_in.contiguous();
    auto w = weight.to(accumulate_type(x)).contiguous();
    auto y = at::empty_like(x);
    auto rstd = at::empty({x.numel() / std::max<int64_t>(cols, 1)}, x.options().dtype(w.scalar_type()));
    RmsNormParams p{x.data_ptr(), w.data_ptr(), y.data_ptr(), rstd.data_ptr(), rstd.numel(), cols, float(eps),
                    unit_offset, dtype};
    if (x.is_cuda()) {
#ifdef TAILOR_WITH_CUDA
      c10::cuda::CUDAGuard guard(x.device());
#endif
      check_launch(launch_rms_norm_forward(p, cuda_stream_for(x, "rms_norm")), "rms_norm");
    } else {
      rms_norm_forward_cpu(p);
    }
    ctx->save_for_backward({x, weight, rstd});
    ctx->saved_data["unit_offset"] = unit_offset;
    return y;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const auto& x = saved[0];
    const auto& weight = saved[1];
    const auto& rstd = saved[2];
    const bool unit_offset = ctx->saved_data["unit_offset"].toBool();
    auto g = grads[0].to(x.scalar_type()).contiguous();
    auto w = weight.to(rstd.scalar_type()).contiguous();
    const int64_t cols = x.size(-1), rows = rstd.numel();
    auto dx = at::empty_like(x);
    int64_t partials = x.is_cuda() ? rms_norm_backward_cuda_partials(rows)
                                   : std::max<int64_t>(1, std::min<int64_t>(rows, at::get_num_threads()));
    auto dw_partial = at::empty({partials, cols}, rstd.options());
    RmsNormBackwardParams p{g.data_ptr(), x.data_ptr(), w.data_ptr(), rstd.data_ptr(), dx.data_ptr(),
                            dw_partial.data_ptr(), rows, cols, partials, unit_offset, kernel_dtype(x, "rms_norm")};
    if (x.is_cuda()) {
#ifdef TAILOR_WITH_CUDA
      c10::cuda::CUDAGuard guard(x.device());
#endif
      check_launch(launch_rms_norm_backward(p, cuda_stream_for(x, "rms_norm")), "rms_norm backward");
    } else {
      rms_norm_backward_cpu(p);
    }
    return {dx, dw_partial.sum(0).to(weight.scalar_type()), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor rms_norm_reference(const at::Tensor& x, const at::Tensor& weight, double eps, bool unit_offset) {
  auto xa = x.to(accumulate_type(x));
  auto rstd = at::rsqrt(xa.pow(2).mean(-1, /*keepdim=*/true) + eps);
  auto w = weight.to(xa.scalar_type());
  if (unit_offset) w = w + 1;
  return (xa * rstd * w).to(x.scalar_type());
}

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps, bool unit_offset, KernelMode mode) {
  if (mode == KernelMode::reference) return rms_norm_reference(x, weight, eps, unit_offset);
  return RmsNormFunction::apply(x, weight, eps, unit_offset);
}

}  // namespace tailor::kernels
