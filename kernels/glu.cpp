#include "kernels/glu.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/custom_function.h>

#include "core/build_info.h"
#include "kernels/dispatch.h"

#ifdef TAILOR_WITH_CUDA
#include <c10/cuda/CUDAGuard.h>
#endif

namespace tailor::kernels {
namespace {

struct GluFunction : torch::autograd::Function<GluFunction> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& gate_in, const at::Tensor& up_in,
                            int64_t act) {
    TORCH_CHECK(gate_in.sizes() == up_in.sizes(), "glu: gate ", gate_in.sizes(), " and up ", up_in.sizes(), " differ");
    TORCH_CHECK(gate_in.scalar_type() == up_in.scalar_type() && gate_in.device() == up_in.device(),
                "glu: gate and up differ in dtype or device");
    auto gate = gate_in.contiguous(), up = up_in.contiguous();
    auto out = at::empty_like(gate);
    GluParams p{gate.data_ptr(), up.data_ptr(), out.data_ptr(), gate.numel(), GluActivation(act), kernel_dtype(gate, "glu")};
    if (gate.is_cuda()) {
#ifdef TAILOR_WITH_CUDA
      c10::cuda::CUDAGuard guard(gate.device());
#endif
      check_launch(launch_glu_forward(p, cuda_stream_for(gate, "glu")), "glu");
    } else {
      glu_forward_cpu(p);
    }
    ctx->save_for_backward({gate, up});
    ctx->saved_data["act"] = act;
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const auto& gate = saved[0];
    const auto& up = saved[1];
    auto g = grads[0].to(gate.scalar_type()).contiguous();
    auto dgate = at::empty_like(gate), dup = at::empty_like(up);
    GluBackwardParams p{g.data_ptr(), gate.data_ptr(), up.data_ptr(), dgate.data_ptr(), dup.data_ptr(), gate.numel(),
                        GluActivation(ctx->saved_data["act"].toInt()), kernel_dtype(gate, "glu")};
    if (gate.is_cuda()) {
#ifdef TAILOR_WITH_CUDA
      c10::cuda::CUDAGuard guard(gate.device());
#endif
      check_launch(launch_glu_backward(p, cuda_stream_for(gate, "glu")), "glu backward");
    } else {
      glu_backward_cpu(p);
    }
    return {dgate, dup, at::Tensor()};
  }
};

}  // namespace

at::Tensor glu_reference(const at::Tensor& gate, const at::Tensor& up, GluActivation act) {
  return (act == GluActivation::silu ? at::silu(gate) : at::gelu(gate, "tanh")) * up;
}

at::Tensor glu(const at::Tensor& gate, const at::Tensor& up, GluActivation act, KernelMode mode) {
  if (mode == KernelMode::reference) return glu_reference(gate, up, act);
  return GluFunction::apply(gate, up, int64_t(act));
}

}  // namespace tailor::kernels
