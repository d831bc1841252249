#include "kernels/cpu_matmul.h"

#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>

namespace tailor::kernels {
namespace {

// Looked up by name (it is LibTorch's own registration for inductor's CPU linears) and called boxed,
// so a LibTorch without it falls back instead of failing to link.
const c10::OperatorHandle* onednn_linear() {
  static const std::optional<c10::OperatorHandle> op =
      c10::Dispatcher::singleton().findSchema({"mkldnn::_linear_pointwise", ""});
  return op ? &*op : nullptr;
}

}  // namespace

bool onednn_float32_linear_available() { return onednn_linear() != nullptr; }

static bool takes_onednn(const at::Tensor& x, const at::Tensor& w) {
  return onednn_linear() && x.is_cpu() && x.scalar_type() == at::kFloat && w.scalar_type() == at::kFloat &&
         x.size(-2) > 0 && x.size(-1) > 0 && w.size(-2) > 0;
}

at::Tensor linear_nt(const at::Tensor& x, const at::Tensor& w, const at::Tensor& bias) {
  const bool with_bias = bias.defined() && bias.numel() > 0;
  if (x.dim() == 2 && takes_onednn(x, w)) {
    torch::jit::Stack stack{x, w, with_bias ? c10::IValue(bias.to(at::kFloat)) : c10::IValue(), c10::IValue("none"),
                            c10::IValue(c10::List<std::optional<at::Scalar>>()), c10::IValue()};
    onednn_linear()->callBoxed(&stack);
    return stack[0].toTensor();
  }
  return with_bias ? at::addmm(bias.to(x.scalar_type()), x, w.t()) : at::mm(x, w.t());
}

at::Tensor batched_nt(const at::Tensor& a, const at::Tensor& b) {
  if (!takes_onednn(a, b)) return at::bmm(a, b.transpose(1, 2));
  auto out = at::empty({a.size(0), a.size(1), b.size(1)}, a.options());
  for (int64_t i = 0; i < a.size(0); ++i) out.select(0, i).copy_(linear_nt(a.select(0, i), b.select(0, i)));
  return out;
}

}  // namespace tailor::kernels
