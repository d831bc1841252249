// Puts an adapter on a loaded model: every projection the adapter config targets (read from the
// architecture table through the model's linear slots) is wrapped in a LoraLinear, modules_to_save get
// trainable copies, and every base weight is frozen. The model's forward then runs base + adapter.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "kernels/kernel_mode.h"
#include "lora/adapter.h"
#include "lora/quantized_weight.h"
#include "models/decoder.h"
#include "train/recipe.h"

namespace tailor::train {

// The frozen base of the linear at HF module path `module` in quantized form: NF4 from the loaded dense
// `weight` (QLoRA), or the module's own blocks in a GGUF file. Null keeps bases dense.
using BaseQuantizer =
    std::function<std::shared_ptr<lora::QuantizedWeight>(const std::string& module, const at::Tensor& weight)>;

// The adapter a recipe's lora: section describes (PEFT's LoraConfig fields).
lora::AdapterConfig adapter_config_for(const Recipe& recipe);

// `kernels` selects each LoRA layer's implementation (fused: hand-written backward saving only x and the
// rank-r product).
lora::Adapter attach_lora(models::CausalLMImpl& model, lora::AdapterConfig config, const BaseQuantizer& quantize = {},
                          kernels::KernelMode kernels = kernels::KernelMode::reference);

}  // namespace tailor::train
