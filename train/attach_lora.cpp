#include "train/attach_lora.h"

#include "core/error.h"
#include "models/linear_like.h"

namespace tailor::train {
namespace {

// The LoRA wrapper seen through the decoder's projection seam. Registered under the slot's name, so
// parameter paths stay "…q_proj.weight" (frozen buffer) and "…q_proj.lora_A.weight".
class LoraProjection : public models::LinearLike {
 public:
  explicit LoraProjection(lora::LoraLinear inner) : inner_(register_module("lora", std::move(inner))) {}
  at::Tensor forward(const at::Tensor& x) override { return inner_->forward(x); }
  int64_t in_features() const override { return inner_->in_features(); }
  int64_t out_features() const override { return inner_->out_features(); }

 private:
  lora::LoraLinear inner_;
};

}  // namespace

lora::AdapterConfig adapter_config_for(const Recipe& recipe) {
  lora::AdapterConfig config;
  const auto& l = recipe.lora;
  config.r = l.r;
  config.lora_alpha = l.alpha;
  config.lora_dropout = l.dropout;
  config.use_rslora = l.rslora;
  config.use_dora = l.dora;
  config.init_lora_weights = lora::parse_lora_init(l.init == "default" ? "true" : l.init);
  if (l.targets.size() == 1 && l.targets[0] == "all-linear") config.target_regex = "all-linear";
  else config.target_modules = l.targets;
  config.modules_to_save = l.modules_to_save;
  config.base_model_name_or_path = recipe.model;
  return config;
}

lora::Adapter attach_lora(models::CausalLMImpl& model, lora::AdapterConfig config, const BaseQuantizer& quantize,
                          kernels::KernelMode kernels) {
  for (auto& p : model.parameters()) p.requires_grad_(false);

  auto slots = model.linear_slots();
  std::vector<std::string> paths;
  for (const auto& slot : slots) paths.push_back(slot.info.module);
  auto targets = lora::select_lora_targets(config, paths);
  lora::Adapter adapter(config);

  for (auto& slot : slots) {
    if (std::find(targets.begin(), targets.end(), slot.info.module) == targets.end()) continue;
    auto dense = std::dynamic_pointer_cast<models::DenseLinear>(slot.module);
    if (!dense) throw std::logic_error("attach_lora: " + slot.info.module + " is already wrapped");
    std::optional<at::Tensor> bias;
    if (dense->bias.defined()) bias = dense->bias.detach();
    auto options = config.options_for(slot.info.module);
    lora::LoraLinear layer = quantize ? lora::LoraLinear(quantize(slot.info.module, dense->weight.detach()), bias, options)
                                      : lora::LoraLinear(dense->weight.detach(), bias, options);
    layer->set_kernel_mode(kernels);
    if (model.device() != at::kCPU) layer->to(model.device());
    auto projection = std::make_shared<LoraProjection>(layer);
    slot.replace(projection);
    slot.module = projection;  // the last reference to a quantized layer's dense weight goes: freed now
    dense.reset();
    adapter.add_lora(slot.info.module, layer);
  }

  for (const auto& name : config.modules_to_save) {
    if (lora::module_name_matches("model.embed_tokens", name)) {
      auto& embed = *model.model->embed_tokens;
      lora::ModuleCopy copy(embed.weight.detach());
      embed.weight = copy->weight;  // forward now reads the trainable copy
      adapter.add_module_copy("model.embed_tokens", copy);
      if (!model.lm_head) adapter.tie_module_copy("lm_head", "model.embed_tokens");  // tied: lm_head reads the copy
    } else if (lora::module_name_matches("lm_head", name)) {
      if (!model.lm_head)
        throw InputError("modules_to_save: lm_head is tied to embed_tokens in this model; save embed_tokens instead");
      lora::ModuleCopy copy(model.lm_head->weight.detach());
      model.lm_head->weight = copy->weight;
      adapter.add_module_copy("lm_head", copy);
    } else {
      throw InputError("modules_to_save: '" + name + "' is not embed_tokens or lm_head");
    }
  }
  return adapter;
}

}  // namespace tailor::train
