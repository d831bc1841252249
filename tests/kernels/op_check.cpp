#include "tests/kernels/op_check.h"

#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <cmath>

namespace tailor::kernels::testing {

namespace {

at::Tensor cast(const at::Tensor& t, at::ScalarType dtype, at::Device device) {
  // A fresh leaf each run: requires_grad must not leak into the caller's tensors.
  return (t.is_floating_point() ? t.to(device, dtype) : t.to(device)).detach().clone();
}

}  // namespace

double relative_error(const at::Tensor& got, const at::Tensor& want) {
  auto g = got.detach().to(at::kCPU, at::kDouble), w = want.detach().to(at::kCPU, at::kDouble);
  EXPECT_EQ(g.sizes(), w.sizes());
  EXPECT_TRUE(at::isfinite(g).all().item<bool>()) << "non-finite values";
  const double norm = w.norm().item<double>();
  return (g - w).norm().item<double>() / (norm > 0 ? norm : 1.0);
}

OpRun run_op(const OpFn& f, const std::vector<at::Tensor>& inputs, const std::vector<bool>& differentiable,
             at::ScalarType dtype, at::Device device, KernelMode mode, const std::vector<at::Tensor>& upstream) {
  std::vector<at::Tensor> in, wrt;
  for (size_t i = 0; i < inputs.size(); ++i) {
    auto t = cast(inputs[i], dtype, device);
    if (differentiable[i]) {
      t.requires_grad_(true);
      wrt.push_back(t);
    }
    in.push_back(t);
  }
  OpRun run;
  run.outputs = f(in, mode);
  if (!wrt.empty() && !upstream.empty()) {
    at::Tensor total;
    for (size_t i = 0; i < run.outputs.size(); ++i) {
      auto term = (run.outputs[i].to(at::kDouble) * upstream[i].to(device)).sum();
      total = total.defined() ? total + term : term;
    }
    auto grads = torch::autograd::grad({total}, wrt, {}, false, false, /*allow_unused=*/true);
    size_t k = 0;
    for (size_t i = 0; i < inputs.size(); ++i) run.grads.push_back(differentiable[i] ? grads[k++] : at::Tensor());
  }
  for (auto& o : run.outputs) o = o.detach();
  return run;
}

void expect_fused_matches_reference(const OpFn& f, const std::vector<at::Tensor>& inputs,
                                    const std::vector<bool>& differentiable, at::ScalarType dtype, at::Device device,
                                    const std::string& what) {
  // Round inputs to the tested precision first so all three runs compute the same function of the same numbers.
  std::vector<at::Tensor> rounded;
  for (const auto& t : inputs) rounded.push_back(t.is_floating_point() ? t.to(dtype).to(at::kDouble) : t);
  auto probe = run_op(f, rounded, differentiable, at::kDouble, at::kCPU, KernelMode::reference, {});
  std::vector<at::Tensor> upstream;
  for (const auto& o : probe.outputs) upstream.push_back(at::randn(o.sizes(), at::kDouble).to(dtype).to(at::kDouble));
  auto exact = run_op(f, rounded, differentiable, at::kDouble, at::kCPU, KernelMode::reference, upstream);
  auto reference = run_op(f, rounded, differentiable, dtype, device, KernelMode::reference, upstream);
  auto fused = run_op(f, rounded, differentiable, dtype, device, KernelMode::fused, upstream);
  const double eps = std::ldexp(1.0, -22);  // a few float32 roundings: fused ops accumulate in float32
  auto compare = [&](const at::Tensor& fu, const at::Tensor& re, const at::Tensor& ex, const std::string& name) {
    ASSERT_TRUE(fu.defined() && re.defined() && ex.defined()) << what << " " << name;
    EXPECT_EQ(fu.scalar_type(), re.scalar_type()) << what << " " << name;
    const double err_fused = relative_error(fu, ex), err_reference = relative_error(re, ex);
    EXPECT_LE(err_fused, 2 * err_reference + eps)
        << what << " " << name << ": fused error " << err_fused << ", reference error " << err_reference;
  };
  for (size_t i = 0; i < exact.outputs.size(); ++i)
    compare(fused.outputs[i], reference.outputs[i], exact.outputs[i], "output " + std::to_string(i));
  for (size_t i = 0; i < inputs.size(); ++i)
    if (differentiable[i]) compare(fused.grads[i], reference.grads[i], exact.grads[i], "grad of input " + std::to_string(i));
}

void expect_gradcheck(const OpFn& f, const std::vector<at::Tensor>& inputs, const std::vector<bool>& differentiable,
                      KernelMode mode, const std::string& what) {
  std::vector<at::Tensor> in;
  for (const auto& t : inputs) in.push_back(t.is_floating_point() ? t.to(at::kDouble) : t);
  auto probe = run_op(f, in, differentiable, at::kDouble, at::kCPU, mode, {});
  std::vector<at::Tensor> upstream;
  for (const auto& o : probe.outputs) upstream.push_back(at::randn(o.sizes(), at::kDouble));
  auto analytic = run_op(f, in, differentiable, at::kDouble, at::kCPU, mode, upstream);
  auto objective = [&](const std::vector<at::Tensor>& args) {
    at::NoGradGuard no_grad;
    auto outs = f(args, mode);
    double s = 0;
    for (size_t i = 0; i < outs.size(); ++i) s += (outs[i] * upstream[i]).sum().item<double>();
    return s;
  };
  constexpr double h = 1e-6;
  for (size_t i = 0; i < in.size(); ++i) {
    if (!differentiable[i]) continue;
    auto numeric = at::zeros_like(in[i]);
    auto flat = in[i].view(-1);
    auto num_flat = numeric.view(-1);
    for (int64_t j = 0; j < flat.numel(); ++j) {
      const double v = flat[j].item<double>();
      flat[j] = v + h;
      const double up = objective(in);
      flat[j] = v - h;
      const double down = objective(in);
      flat[j] = v;
      num_flat[j] = (up - down) / (2 * h);
    }
    EXPECT_TRUE(at::allclose(analytic.grads[i], numeric, 1e-5, 1e-6))
        << what << ": input " << i << " max abs diff " << (analytic.grads[i] - numeric).abs().max().item<double>();
  }
}

}  // namespace tailor::kernels::testing
