#include "models/model_loader.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <fstream>

#include "core/error.h"
#include "formats/gguf.h"

namespace tailor::models {
namespace {

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

std::filesystem::path config_path(const std::filesystem::path& path) {
  std::filesystem::path folder = std::filesystem::is_directory(path) ? path : path.parent_path();
  return folder / "config.json";
}

}  // namespace

bool is_gguf_path(const std::filesystem::path& path) {
  if (path.extension() == ".gguf") return true;
  if (std::filesystem::is_directory(path)) return false;
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  return in.read(magic, 4) && std::string(magic, 4) == "GGUF";
}

ModelConfig load_model_config(const std::filesystem::path& path) {
  if (!std::filesystem::exists(path)) throw InputError(path.string() + ": no such file or folder");
  if (is_gguf_path(path)) return config_from_gguf(formats::GgufFile(path));
  const std::filesystem::path config_json = config_path(path);
  if (!std::filesystem::exists(config_json))
    throw InputError(path.string() + ": not a .gguf file and no config.json beside it");
  ModelConfig config = load_hf_config(config_json);
  merge_generation_config(config, config_json.parent_path() / "generation_config.json");
  return config;
}

void check_tensors(const ModelConfig& config, const TensorSource& source) {
  for (const TensorInfo& t : model_tensors(config)) {
    if (!source.contains(t.hf_name))
      throw InputError(source.describe() + ": missing tensor '" + t.hf_name + "'");
    std::vector<int64_t> found = source.shape(t.hf_name);
    if (found != t.shape)
      throw InputError(source.describe() + ": tensor '" + t.hf_name + "': shape " + shape_string(found) +
                       ", expected " + shape_string(t.shape));
  }
}

void load_weights(CausalLMImpl& model, const TensorSource& source) {
  torch::NoGradGuard no_grad;
  check_tensors(model.config(), source);  // all-or-nothing: nothing is copied into a model that cannot load
  std::map<std::string, at::Tensor> params;
  for (const auto& item : model.named_parameters()) params.emplace(item.key(), item.value());
  for (const TensorInfo& t : model_tensors(model.config())) {
    auto it = params.find(t.hf_name);
    if (it == params.end()) throw std::logic_error("model has no parameter '" + t.hf_name + "'");
    it->second.copy_(source.load(t.hf_name));
  }
}

CausalLM load_causal_lm(const std::filesystem::path& path, const LoadOptions& options) {
  ModelConfig config = load_model_config(path);
  std::unique_ptr<TensorSource> source;
  if (is_gguf_path(path)) {
    source = open_gguf_source(std::make_shared<const formats::GgufFile>(path), config);
  } else {
    source = open_safetensors_source(std::filesystem::is_directory(path) ? path : path.parent_path());
  }
  // Before allocating: a config whose sizes the file does not back is refused, not allocated.
  check_tensors(config, *source);
  CausalLM model(config, at::TensorOptions().dtype(options.dtype).device(options.device));
  load_weights(*model, *source);
  model->eval();
  return model;
}

}  // namespace tailor::models
