// Activation checkpointing per decoder layer (`train.activation_checkpointing: true`). LibTorch has no
// torch.utils.checkpoint, so this is a custom autograd function: the forward runs the layer without
// recording a graph and keeps only the layer's input; backward runs the layer again with grad enabled,
// with the RNG state of the first pass restored (dropout masks are identical), and backpropagates
// through that recomputation into the input and the layer's trainable parameters.
#pragma once

#include <ATen/core/Tensor.h>

#include "models/decoder.h"

namespace tailor::train {

// One layer, checkpointed: returns forward(x) with gradients for x and `layer`'s parameters that require grad.
at::Tensor checkpointed_layer(torch::nn::Module& layer, const models::CausalLMImpl::LayerForward& forward,
                              const at::Tensor& x);

// Installs (or, enabled = false, removes) checkpointing on every decoder layer of the model.
void set_activation_checkpointing(models::CausalLMImpl& model, bool enabled);

}  // namespace tailor::train
