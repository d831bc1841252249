#include "kernels/lora_linear.h"

#include <ATen/ATen.h>
#include <ATen/core/ivalue.h>
#include <torch/csrc/autograd/custom_function.h>

#include "kernels/cpu_matmul.h"

namespace tailor::kernels {
namespace {

// Carries the FrozenWeight (which may hold a dequantizer callback) through the autograd context.
struct FrozenWeightHolder : torch::CustomClassHolder {
  explicit FrozenWeightHolder(FrozenWeight w) : weight(std::move(w)) {}
  FrozenWeight weight;
};

at::Tensor dropout_mask(const at::Tensor& x, double p, at::Generator generator) {
  return at::empty_like(x).bernoulli_(1.0 - p, generator).div_(1.0 - p);
}

struct LoraLinearFunction : torch::autograd::Function<LoraLinearFunction> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x_in, const at::Tensor& lora_a,
                            const at::Tensor& lora_b, const at::Tensor& bias, c10::IValue base_holder, double scale,
                            double dropout) {
    const auto& base = static_cast<FrozenWeightHolder*>(base_holder.toCapsule().get())->weight;
    auto x = x_in;  // [N, in]
    auto xd = x;
    if (dropout > 0) {
      // Remember the generator state so backward regenerates the same mask instead of saving it.
      auto generator = at::globalContext().defaultGenerator(x.device());
      ctx->saved_data["dropout_generator"] = generator.clone();
      xd = x * dropout_mask(x, dropout, generator);
    }
    // float32 LoRA weights under a bfloat16 input compute in bfloat16 (as autocast does): no float32 copy
    // of the activations, and the low-rank product is one more bfloat16 GEMM on the base output.
    auto xa = linear_nt(xd, lora_a.to(x.scalar_type()));  // [N, r]
    auto w = base.materialize(x.scalar_type(), x.device(), /*reuse_scratch=*/true);
    // An empty bias stands for none (autograd functions take no undefined tensor inputs).
    auto y = linear_nt(x, w, bias);
    y.addmm_(xa, lora_b.to(x.scalar_type()).t(), 1.0, scale);
    ctx->save_for_backward({x, xa, lora_a, lora_b});
    ctx->saved_data["base"] = base_holder;
    ctx->saved_data["scale"] = scale;
    ctx->saved_data["dropout"] = dropout;
    return y;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const auto& x = saved[0];
    const auto& xa = saved[1];
    const auto& lora_a = saved[2];
    const auto& lora_b = saved[3];
    const auto& base = static_cast<FrozenWeightHolder*>(ctx->saved_data["base"].toCapsule().get())->weight;
    const double scale = ctx->saved_data["scale"].toDouble(), dropout = ctx->saved_data["dropout"].toDouble();
    auto g = grads[0].reshape({-1, base.out_features}).to(x.scalar_type());
    at::Tensor mask;
    if (dropout > 0) mask = dropout_mask(x, dropout, ctx->saved_data["dropout_generator"].toGenerator().clone());
    const auto compute = x.scalar_type();
    auto a = lora_a.to(compute), b = lora_b.to(compute);
    auto gb = linear_nt(g, b.t());  // [N, r]
    at::Tensor grad_x, grad_a, grad_b;
    // Weight gradients accumulate over all N tokens inside the GEMM in float32; scaled after the cast.
    if (ctx->needs_input_grad(2)) grad_b = at::mm(g.t(), xa).to(lora_b.scalar_type()).mul_(scale);
    if (ctx->needs_input_grad(1))
      grad_a = linear_nt(gb.t(), (mask.defined() ? x * mask : x).t()).to(lora_a.scalar_type()).mul_(scale);
    if (ctx->needs_input_grad(0)) {
      auto w = base.materialize(compute, x.device(), /*reuse_scratch=*/true);
      grad_x = linear_nt(g, w.t());
      if (mask.defined()) grad_x.add_(at::mm(gb, a).mul_(mask), scale);
      else grad_x.addmm_(gb, a, 1.0, scale);
    }
    return {grad_x, grad_a, grad_b, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

void check_shapes(const at::Tensor& x, const FrozenWeight& base, const at::Tensor& a, const at::Tensor& b) {
  TORCH_CHECK(x.size(-1) == base.in_features, "lora_linear: input ", x.sizes(), " does not match base [",
              base.out_features, ", ", base.in_features, "]");
  TORCH_CHECK(a.dim() == 2 && a.size(1) == base.in_features, "lora_linear: lora_A ", a.sizes(), ", expected [r, ",
              base.in_features, "]");
  TORCH_CHECK(b.dim() == 2 && b.size(0) == base.out_features && b.size(1) == a.size(0), "lora_linear: lora_B ",
              b.sizes(), ", expected [", base.out_features, ", ", a.size(0), "]");
  TORCH_CHECK(a.scalar_type() == b.scalar_type() &&
                  (a.scalar_type() == x.scalar_type() || (a.scalar_type() == at::kFloat && x.scalar_type() == at::kBFloat16)),
              "lora_linear: LoRA weights ", a.scalar_type(), "/", b.scalar_type(), " with input ", x.scalar_type(),
              " (supported: the input's dtype, or float32 under bfloat16)");
}

}  // namespace

at::Tensor lora_linear_reference(const at::Tensor& x, const FrozenWeight& base, const at::Tensor& bias,
                                 const at::Tensor& lora_a, const at::Tensor& lora_b, const LoraLinearArgs& args) {
  auto w = base.materialize(x.scalar_type(), x.device(), /*reuse_scratch=*/false);
  auto base_out = at::linear(x, w, bias.defined() ? bias.to(x.scalar_type()) : bias);
  // Adapters in another precision (float32 under a bfloat16 model) compute in theirs, as PEFT does.
  auto xd = at::dropout(x.to(lora_a.scalar_type()), args.dropout, args.training);
  return base_out + (args.scale * at::linear(at::linear(xd, lora_a), lora_b)).to(x.scalar_type());
}

at::Tensor lora_linear(const at::Tensor& x, const FrozenWeight& base, const at::Tensor& bias, const at::Tensor& lora_a,
                       const at::Tensor& lora_b, const LoraLinearArgs& args, KernelMode mode) {
  check_shapes(x, base, lora_a, lora_b);
  if (mode == KernelMode::reference) return lora_linear_reference(x, base, bias, lora_a, lora_b, args);
  auto holder = c10::IValue::make_capsule(c10::make_intrusive<FrozenWeightHolder>(base));
  auto shape = x.sizes().vec();
  shape.back() = base.out_features;
  auto no_bias = at::empty({0}, x.options());
  return LoraLinearFunction::apply(x.reshape({-1, base.in_features}), lora_a, lora_b, bias.defined() ? bias : no_bias,
                                   holder, args.scale, args.training ? args.dropout : 0.0)
      .view(shape);
}

}  // namespace tailor::kernels
