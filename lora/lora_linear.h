// A frozen base linear (dense or quantized) plus a trainable low-rank update, computed exactly as PEFT's
// lora.Linear: y = W x + b + scaling · B(A(dropout(x))), or with DoRA
// y = W x + b + (m/‖W'‖ − 1)·(W x) + (m/‖W'‖)·scaling·B(A(dropout x)), ‖W'‖ the detached row norms of
// W + scaling·BA. The base weight is never renamed: it stays `weight` (and `bias`) on this module, so a
// loader filling `…q_proj.weight` finds it where it was.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "kernels/kernel_mode.h"
#include "lora/lora_options.h"
#include "lora/quantized_weight.h"

namespace tailor::lora {

class LoraLinearImpl : public torch::nn::Module {
 public:
  // Dense base: `weight` [out, in] (frozen; kept as a buffer so optimizers never see it), optional bias.
  LoraLinearImpl(at::Tensor weight, std::optional<at::Tensor> bias, LoraOptions options);
  // Quantized base: expanded per use, in forward and again in backward, never kept dense.
  LoraLinearImpl(std::shared_ptr<QuantizedWeight> weight, std::optional<at::Tensor> bias, LoraOptions options);

  at::Tensor forward(const at::Tensor& x);

  // The dense base weight in `dtype` (dequantized for a quantized base; the merged weight when merged).
  // For a dense base already in `dtype` this is the stored tensor itself, not a copy.
  at::Tensor base_weight(at::ScalarType dtype) const;
  // scaling · B A, the update merge() adds (before DoRA's rescaling).
  at::Tensor delta_weight() const;

  // Folds the adapter into the base weight (a quantized base becomes dense until unmerge()); forward then
  // runs the base alone. unmerge() restores the base as it was (exactly, for a quantized base).
  void merge();
  void unmerge();
  bool merged() const { return merged_; }

  // Sets the DoRA magnitude to the row norms of W + scaling·BA, as PEFT does after A and B are set.
  void reset_dora_magnitude();

  // Tensors as PEFT names them in adapter_model.safetensors, relative to the module path:
  // "lora_A.weight", "lora_B.weight" and with DoRA "lora_magnitude_vector".
  std::vector<std::pair<std::string, at::Tensor>> adapter_tensors() const;
  // Copies a tensor read from an adapter file into the matching parameter; throws InputError (naming
  // `suffix` and the shapes) on an unknown suffix or a shape mismatch.
  void load_adapter_tensor(const std::string& suffix, const at::Tensor& value);

  // `fused` runs plain LoRA (not DoRA) through kernels::lora_linear: hand-written backward that keeps
  // only x and the rank-r product, and dequantizes a quantized base into a scratch buffer.
  void set_kernel_mode(kernels::KernelMode mode) { kernel_mode_ = mode; }

  const LoraOptions& options() const { return options_; }
  int64_t in_features() const { return in_features_; }
  int64_t out_features() const { return out_features_; }
  bool quantized() const { return quantized_ != nullptr; }
  const std::shared_ptr<QuantizedWeight>& quantized_weight() const { return quantized_; }

  torch::nn::Linear lora_A{nullptr}, lora_B{nullptr};
  at::Tensor lora_magnitude_vector;  // DoRA only, [out]

 private:
  void create_adapter(at::TensorOptions options);
  void initialize();
  at::Tensor base_forward(const at::Tensor& x) const;  // W x + b
  at::Tensor lora_forward(const at::Tensor& x);         // B(A(x)) in A's dtype, cast back to x's
  at::Tensor dora_weight_norm(at::ScalarType dtype) const;

  LoraOptions options_;
  int64_t in_features_ = 0, out_features_ = 0;
  at::Tensor weight_, bias_;
  std::shared_ptr<QuantizedWeight> quantized_;
  std::shared_ptr<QuantizedWeight> quantized_before_merge_;
  at::Tensor dora_norm_at_merge_;
  bool merged_ = false;
  kernels::KernelMode kernel_mode_ = kernels::KernelMode::reference;
};

TORCH_MODULE(LoraLinear);

}  // namespace tailor::lora
