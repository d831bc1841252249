// Test driver for the export parity scripts: makes adapters with tailor's own attach_lora (random,
// non-zero weights), and runs tailor's model with an adapter attached (not merged) for logits and
// greedy generation, so the scripts can compare exported files in the real runtimes against it.
//
//   export_probe make-adapter BASE ADAPTER_CONFIG.json OUT_DIR SEED
//   export_probe logits BASE ADAPTER_DIR|- IDS.json OUT.f32      (ids: [[...]]; writes [T, V] float32)
//   export_probe generate BASE ADAPTER_DIR|- PROMPTS.json N      (prints {"generations": [[...], ...]})
#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "export/merge.h"
#include "lora/adapter.h"
#include "models/generator.h"
#include "models/model_loader.h"
#include "train/attach_lora.h"

using namespace tailor;
using nlohmann::json;

namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), {}};
}

struct Loaded {
  models::CausalLM model{nullptr};
  std::optional<lora::Adapter> adapter;
};

Loaded load(const std::string& base, const std::string& adapter_dir) {
  Loaded l;
  l.model = models::load_causal_lm(base, {at::kFloat, at::kCPU});
  if (adapter_dir != "-") {
    auto folder = exporting::find_adapter_folder(adapter_dir);
    l.adapter.emplace(train::attach_lora(*l.model, lora::read_adapter_config(folder / lora::kAdapterConfigFile)));
    l.adapter->load_weights(folder);
  }
  return l;
}

int run(const std::vector<std::string>& a) {
  torch::NoGradGuard no_grad;
  if (a.size() == 5 && a[0] == "make-adapter") {
    auto model = models::load_causal_lm(a[1], {at::kFloat, at::kCPU});
    auto config = lora::adapter_config_from_json(read_text(a[2]), a[2]);
    config.base_model_name_or_path = a[1];
    auto adapter = train::attach_lora(*model, config);
    at::manual_seed(std::stoll(a[4]));
    for (auto [path, layer] : adapter.lora_layers()) {
      layer->lora_A->weight.normal_(0, 0.05);
      layer->lora_B->weight.normal_(0, 0.05);
      if (config.use_dora) {
        layer->reset_dora_magnitude();
        layer->lora_magnitude_vector.mul_(1 + 0.1 * at::randn_like(layer->lora_magnitude_vector));
      }
    }
    for (auto [path, copy] : adapter.module_copies()) copy->weight.add_(at::randn_like(copy->weight) * 0.02);
    adapter.save(a[3]);
    return 0;
  }
  if (a.size() == 5 && a[0] == "logits") {
    auto l = load(a[1], a[2]);
    std::vector<int64_t> ids = json::parse(read_text(a[3]))[0].get<std::vector<int64_t>>();
    at::Tensor logits = l.model->forward(at::tensor(ids, at::kLong).view({1, -1}))[0].to(at::kFloat).contiguous();
    std::ofstream(a[4], std::ios::binary).write(static_cast<const char*>(logits.data_ptr()), std::streamsize(logits.nbytes()));
    std::cout << json({{"shape", logits.sizes().vec()}}).dump() << "\n";
    return 0;
  }
  if (a.size() == 5 && a[0] == "generate") {
    auto l = load(a[1], a[2]);
    json out = json::array();
    for (const auto& prompt : json::parse(read_text(a[3]))) {
      models::SamplingOptions options;
      options.max_new_tokens = std::stoll(a[4]);
      out.push_back(models::generate(*l.model, prompt.get<std::vector<int64_t>>(), options).tokens);
    }
    std::cout << json({{"generations", out}}).dump() << "\n";
    return 0;
  }
  std::cerr << "usage: export_probe make-adapter|logits|generate ...\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(std::vector<std::string>(argv + 1, argv + argc));
  } catch (const InputError& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 2;
  }
}
