#include "train/activation_checkpoint.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/custom_function.h>

#include "train/rng_state.h"

namespace tailor::train {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// What backward needs to run the layer again, carried in the autograd context.
struct Recompute : torch::CustomClassHolder {
  models::CausalLMImpl::LayerForward forward;
  std::map<std::string, at::Tensor> rng;  // generator states before the first pass
  bool input_requires_grad = false;
};

struct CheckpointFunction : torch::autograd::Function<CheckpointFunction> {
  // params are inputs so that autograd routes their gradients; the forward reads them through the layer.
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, at::TensorList params,
                            c10::intrusive_ptr<Recompute> recompute) {
    recompute->rng = capture_rng_state();
    recompute->input_requires_grad = x.requires_grad();
    variable_list saved{x};
    saved.insert(saved.end(), params.begin(), params.end());
    ctx->save_for_backward(saved);
    at::Tensor y = recompute->forward(x);  // autograd functions run their forward with grad disabled
    ctx->saved_data["recompute"] = at::IValue::make_capsule(recompute);
    return y;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    auto recompute = c10::static_intrusive_pointer_cast<Recompute>(ctx->saved_data["recompute"].toCapsule());
    ctx->saved_data.erase("recompute");
    variable_list saved = ctx->get_saved_variables();
    at::Tensor x = saved[0].detach().requires_grad_(recompute->input_requires_grad);

    auto rng_now = capture_rng_state();
    restore_rng_state(recompute->rng);
    at::Tensor y;
    {
      at::AutoGradMode grad(true);
      y = recompute->forward(x);
    }
    restore_rng_state(rng_now);

    // Gradients in the order forward received its inputs: x, every parameter, then none for `recompute`.
    const bool want_x = recompute->input_requires_grad;
    variable_list inputs(saved.begin() + (want_x ? 0 : 1), saved.end());
    if (want_x) inputs[0] = x;
    variable_list grads = torch::autograd::grad({y}, inputs, {grad_outputs[0]}, /*retain_graph=*/false,
                                                /*create_graph=*/false, /*allow_unused=*/true);
    if (!want_x) grads.insert(grads.begin(), at::Tensor());
    grads.emplace_back();
    return grads;
  }
};

}  // namespace

at::Tensor checkpointed_layer(torch::nn::Module& layer, const models::CausalLMImpl::LayerForward& forward,
                              const at::Tensor& x) {
  std::vector<at::Tensor> params;
  for (const auto& p : layer.parameters())
    if (p.requires_grad()) params.push_back(p);
  if (!at::GradMode::is_enabled() || (params.empty() && !x.requires_grad())) return forward(x);
  auto recompute = c10::make_intrusive<Recompute>();
  recompute->forward = forward;
  return CheckpointFunction::apply(x, at::TensorList(params), recompute);
}

void set_activation_checkpointing(models::CausalLMImpl& model, bool enabled) {
  model.set_layer_runner(enabled ? models::CausalLMImpl::LayerRunner(checkpointed_layer) : nullptr);
}

}  // namespace tailor::train
