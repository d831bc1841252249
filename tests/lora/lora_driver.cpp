// Runs tailor's LoRA and training building blocks on inputs a parity script prepared with PEFT and
// PyTorch, and writes the results back for the script to compare. Tensors travel as safetensors.
//
//   lora_driver layer CASE.safetensors ADAPTER_DIR OUT.safetensors
//   lora_driver pissa CASE.safetensors R ALPHA OUT.safetensors
//   lora_driver train CASE.safetensors ADAPTER_DIR HPARAMS.json OUT_DIR
//   lora_driver schedule KIND BASE_LR WARMUP TOTAL          (prints one lr per line, steps 0..TOTAL)
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <iomanip>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "lora/adapter.h"
#include "train/adamw.h"
#include "train/grad_clip.h"
#include "train/lr_schedule.h"

namespace {

using namespace tailor;
using Tensors = std::map<std::string, at::Tensor>;

std::optional<at::Tensor> maybe(const Tensors& t, const std::string& name) {
  auto it = t.find(name);
  if (it == t.end()) return std::nullopt;
  return it->second;
}

at::Tensor grad_or_zeros(const at::Tensor& t) { return t.grad().defined() ? t.grad() : at::zeros_like(t); }

int run_layer(const std::string& case_file, const std::string& adapter_dir, const std::string& out_file) {
  Tensors in = lora::read_safetensors_tensors(case_file);
  lora::AdapterConfig config = lora::read_adapter_config(std::filesystem::path(adapter_dir) / lora::kAdapterConfigFile);
  lora::LoraOptions options = config.options_for("lin");
  options.init = lora::LoraInit::kNone;
  lora::LoraLinear layer(in.at("weight"), maybe(in, "bias"), options);
  lora::Adapter adapter(config);
  adapter.add_lora("lin", layer);
  adapter.load_weights(adapter_dir);

  at::Tensor x = in.at("x").clone().requires_grad_(true);
  at::Tensor y = layer->forward(x);
  y.backward(in.at("grad_out"));
  std::vector<std::pair<std::string, at::Tensor>> out{
      {"y", y.detach()}, {"grad_x", x.grad()}, {"grad_A", grad_or_zeros(layer->lora_A->weight)},
      {"grad_B", grad_or_zeros(layer->lora_B->weight)}};
  if (options.use_dora) out.emplace_back("grad_m", grad_or_zeros(layer->lora_magnitude_vector));
  {
    at::NoGradGuard no_grad;
    layer->merge();
    out.emplace_back("merged_weight", layer->base_weight(at::kFloat).clone());
    out.emplace_back("y_merged", layer->forward(in.at("x")));
    layer->unmerge();
    out.emplace_back("unmerged_weight", layer->base_weight(at::kFloat));
  }
  lora::write_safetensors_tensors(out_file, out);
  return 0;
}

int run_pissa(const std::string& case_file, int64_t r, double alpha, const std::string& out_file) {
  Tensors in = lora::read_safetensors_tensors(case_file);
  lora::LoraOptions options;
  options.r = r;
  options.alpha = alpha;
  options.init = lora::LoraInit::kPissa;
  lora::LoraLinear layer(in.at("weight").clone(), std::nullopt, options);
  lora::write_safetensors_tensors(out_file, {{"A", layer->lora_A->weight.detach()},
                                             {"B", layer->lora_B->weight.detach()},
                                             {"residual", layer->base_weight(at::kFloat)}});
  return 0;
}

// The tiny causal LM the parity script builds in PyTorch: embed → x + fc2(silu(fc1(x))) → lm_head.
struct TinyModel {
  at::Tensor embed, lm_head;
  lora::LoraLinear fc1{nullptr}, fc2{nullptr};
  lora::ModuleCopy lm_head_copy{nullptr};
  lora::TrainableTokens tokens{nullptr};

  at::Tensor loss(const at::Tensor& ids) {
    at::Tensor E = tokens ? tokens->weight(embed) : embed;
    at::Tensor h = at::embedding(E, ids);
    h = h + fc2->forward(at::silu(fc1->forward(h)));
    at::Tensor head = lm_head_copy ? lm_head_copy->weight : lm_head;
    at::Tensor logits = at::linear(h, head);
    int64_t V = logits.size(-1);
    at::Tensor shifted = logits.slice(1, 0, -1).reshape({-1, V});
    at::Tensor targets = ids.slice(1, 1).reshape({-1});
    return at::cross_entropy_loss(shifted, targets);
  }
};

int run_train(const std::string& case_file, const std::string& adapter_dir, const std::string& hparams_file,
              const std::string& out_dir) {
  Tensors in = lora::read_safetensors_tensors(case_file);
  std::ifstream hp_in(hparams_file);
  nlohmann::json hp = nlohmann::json::parse(hp_in);
  lora::AdapterConfig config = lora::read_adapter_config(std::filesystem::path(adapter_dir) / lora::kAdapterConfigFile);

  TinyModel model;
  model.embed = in.at("embed_tokens.weight");
  model.lm_head = in.at("lm_head.weight");
  lora::Adapter adapter(config);
  auto make = [&](const std::string& path) {
    lora::LoraOptions options = config.options_for(path);
    options.init = lora::LoraInit::kNone;
    lora::LoraLinear layer(in.at(path + ".weight"), in.at(path + ".bias"), options);
    adapter.add_lora(path, layer);
    return layer;
  };
  model.fc1 = make("fc1");
  model.fc2 = make("fc2");
  for (const auto& name : config.modules_to_save)
    if (name == "lm_head") {
      model.lm_head_copy = lora::ModuleCopy(model.lm_head);
      adapter.add_module_copy("lm_head", model.lm_head_copy);
    }
  if (auto it = config.trainable_token_indices.find("embed_tokens"); it != config.trainable_token_indices.end()) {
    model.tokens = lora::TrainableTokens(model.embed, it->second);
    adapter.add_trainable_tokens("embed_tokens", model.tokens);
  }
  adapter.load_weights(adapter_dir);

  std::vector<std::string> names;
  std::vector<at::Tensor> params;
  for (auto& [name, tensor] : adapter.named_parameters()) {
    names.push_back(name);
    params.push_back(tensor);
  }
  train::AdamWOptions opt_options;
  opt_options.lr = hp.at("lr");
  opt_options.weight_decay = hp.at("weight_decay");
  opt_options.beta1 = hp.at("beta1");
  opt_options.beta2 = hp.at("beta2");
  opt_options.eps = hp.at("eps");
  train::AdamW optimizer(params, names, opt_options);
  train::LrSchedule schedule{train::parse_schedule_kind(hp.at("schedule")), opt_options.lr, hp.at("warmup"), hp.at("steps")};
  const double max_grad_norm = hp.at("max_grad_norm");

  at::Tensor batches = in.at("batches");  // [steps, B, T]
  std::ofstream losses(std::filesystem::path(out_dir) / "losses.txt");
  losses << std::setprecision(17);
  for (int64_t step = 0; step < batches.size(0); ++step) {
    optimizer.set_lr(schedule.lr_at(step));
    at::Tensor loss = model.loss(batches[step]);
    loss.backward();
    at::Tensor norm = train::clip_grad_norm(params, max_grad_norm);
    optimizer.step();
    optimizer.zero_grad();
    losses << loss.item<double>() << " " << norm.item<double>() << "\n";
  }
  adapter.save(std::filesystem::path(out_dir) / "adapter");
  return 0;
}

int run_schedule(const std::string& kind, double base_lr, int64_t warmup, int64_t total) {
  train::LrSchedule schedule{train::parse_schedule_kind(kind), base_lr, warmup, total};
  std::cout << std::setprecision(17);
  for (int64_t step = 0; step <= total; ++step) std::cout << schedule.lr_at(step) << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  at::set_num_threads(1);
  std::vector<std::string> a(argv + 1, argv + argc);
  try {
    if (a.size() == 4 && a[0] == "layer") return run_layer(a[1], a[2], a[3]);
    if (a.size() == 5 && a[0] == "pissa") return run_pissa(a[1], std::stoll(a[2]), std::stod(a[3]), a[4]);
    if (a.size() == 5 && a[0] == "train") return run_train(a[1], a[2], a[3], a[4]);
    if (a.size() == 5 && a[0] == "schedule") return run_schedule(a[1], std::stod(a[2]), std::stoll(a[3]), std::stoll(a[4]));
  } catch (const std::exception& e) {
    std::cerr << "lora_driver: " << e.what() << "\n";
    return 1;
  }
  std::cerr << "usage: lora_driver layer|pissa|train|schedule ...\n";
  return 2;
}
