#include "export/merge.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

#include "core/error.h"
#include "formats/gguf.h"
#include "models/model_loader.h"
#include "models/tensor_inventory.h"
#include "train/attach_lora.h"

namespace tailor::exporting {
namespace fs = std::filesystem;

fs::path find_adapter_folder(const fs::path& path) {
  if (fs::exists(path / lora::kAdapterConfigFile)) return path;
  if (fs::exists(path / "adapter" / lora::kAdapterConfigFile)) return path / "adapter";
  throw InputError(path.string() + ": no " + lora::kAdapterConfigFile + " here or in " + (path / "adapter").string() +
                   " (expected a PEFT adapter folder or a `tailor run` folder)");
}

namespace {

std::string dominant_gguf_type(const fs::path& file) {
  formats::GgufFile gguf(file);
  std::map<std::string, int64_t> elements;
  for (const auto& t : gguf.tensors()) elements[std::string(formats::gguf_type_name(t.type))] += t.numel();
  std::string best;
  int64_t most = -1;
  for (const auto& [name, n] : elements)
    if (n > most) {
      most = n;
      best = name;
    }
  return best;
}

// The base a PEFT config names, when it is a local folder or file we can compare against.
void check_architecture(const lora::AdapterConfig& config, const models::ModelConfig& base, const fs::path& adapter) {
  const fs::path named = config.base_model_name_or_path;
  if (named.empty() || !fs::exists(named)) return;
  models::ModelConfig expected;
  try {
    expected = models::load_model_config(named);
  } catch (const InputError&) {
    return;  // the recorded base is not readable any more; names and shapes are still checked below
  }
  auto describe = [](const models::ModelConfig& c) {
    return c.arch->name + " (hidden " + std::to_string(c.hidden_size) + ", " + std::to_string(c.num_layers) +
           " layers, vocab " + std::to_string(c.vocab_size) + ")";
  };
  if (expected.arch != base.arch || expected.hidden_size != base.hidden_size || expected.num_layers != base.num_layers ||
      expected.vocab_size != base.vocab_size)
    throw InputError((adapter / lora::kAdapterConfigFile).string() + ": adapter was trained on " + named.string() + ", " +
                     describe(expected) + ", but the base given is " + describe(base));
}

}  // namespace

MergedModel merge_adapter(const fs::path& base, const std::optional<fs::path>& adapter) {
  torch::NoGradGuard no_grad;
  MergedModel out;
  out.base = base;
  out.base_is_gguf = models::is_gguf_path(base);
  models::CausalLM model = models::load_causal_lm(base, {at::kFloat, at::kCPU});
  out.config = model->config();
  out.base_weight_type = out.base_is_gguf ? dominant_gguf_type(base) : (out.config.torch_dtype.empty() ? "unknown" : out.config.torch_dtype);

  std::map<std::string, at::Tensor> replaced;
  if (adapter) {
    const fs::path folder = find_adapter_folder(*adapter);
    lora::AdapterConfig config = lora::read_adapter_config(folder / lora::kAdapterConfigFile);
    check_architecture(config, out.config, folder);
    lora::Adapter attached = [&] {
      try {
        return train::attach_lora(*model, config);
      } catch (const InputError&) {
        rethrow_with_context((folder / lora::kAdapterConfigFile).string() + " does not fit " + base.string());
      }
    }();
    attached.load_weights(folder);
    for (auto [path, layer] : attached.lora_layers()) {  // holders are shared handles: merging the copy merges it
      layer->merge();
      replaced[path + ".weight"] = layer->base_weight(at::kFloat).detach().clone();
      for (const auto& buffer : layer->named_buffers(false))  // the base bias (Qwen2's q/k/v) moves with the layer
        if (buffer.key() == "bias") replaced[path + ".bias"] = buffer.value().detach().clone();
    }
    for (const auto& [path, copy] : attached.module_copies()) replaced[path + ".weight"] = copy->weight.detach().clone();
    for (const auto& [path, tokens] : attached.trainable_tokens()) {
      auto& embed = model->model->embed_tokens->weight;
      at::Tensor weight = embed.detach().clone();
      tokens->merge_into(weight);
      replaced[path + ".weight"] = weight;
    }
    std::string what = std::to_string(attached.lora_layers().size()) + " LoRA layers" +
                       (config.use_dora ? " (DoRA)" : "") + (config.use_rslora ? " (rsLoRA scaling)" : "");
    if (!attached.module_copies().empty()) what += ", " + std::to_string(attached.module_copies().size()) + " module copies";
    if (!attached.trainable_tokens().empty()) what += ", trained token rows";
    out.notes.push_back("merged " + what + " from " + folder.string() + " in float32");
    if (out.base_is_gguf && out.base_weight_type != "F32" && out.base_weight_type != "F16" && out.base_weight_type != "BF16")
      out.notes.push_back("the base is " + out.base_weight_type + "-quantized GGUF: merged into its dequantized weights "
                          "(original-precision weights are not available from a quantized file)");
  }

  std::map<std::string, at::Tensor> params;
  for (const auto& item : model->named_parameters(true)) params[item.key()] = item.value();
  for (const auto& item : model->named_buffers(true)) params[item.key()] = item.value();
  for (const auto& info : models::model_tensors(out.config)) {
    at::Tensor t;
    if (auto it = replaced.find(info.hf_name); it != replaced.end()) {
      t = it->second;
    } else if (auto p = params.find(info.hf_name); p != params.end()) {
      t = p->second;
    } else {
      throw std::logic_error("merge: the model holds no tensor " + info.hf_name);
    }
    out.tensors[info.hf_name] = t.detach().to(at::kFloat).contiguous().clone();
  }
  return out;
}

}  // namespace tailor::exporting
