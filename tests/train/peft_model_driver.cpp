// Trains a LoRA adapter on a whole model the way `tailor run` does, for parity scripts that run the same
// job in transformers + PEFT: the HF folder loaded by tailor's model loader, the adapter attached by
// attach_lora (bases optionally quantized to NF4, as lora.quantize: nf4 does) and filled from an
// adapter folder PEFT saved, then AdamW + clipping + LR schedule over the batches the script gives.
//
//   peft_model_driver MODEL_DIR ADAPTER_DIR CASE.json OUT_DIR
//
// CASE.json: {"kernels": "reference"|"fused", "quantize": "none"|"nf4", "threads": N,
//             "optim": {"lr", "beta1", "beta2", "eps", "weight_decay", "max_grad_norm", "schedule", "warmup"},
//             "batches": [{"input_ids": [[...]], "labels": [[...]], "attention_mask": [[...]]}, ...]}
// labels are unshifted (position t is scored against labels[t+1]); -100 is not trained.
// Writes OUT_DIR/losses.json ({"loss": [...], "grad_norm": [...]}) and OUT_DIR/adapter (PEFT layout).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "core/atomic_file.h"
#include "kernels/linear_cross_entropy.h"
#include "lora/adapter.h"
#include "lora/nf4_weight.h"
#include "models/model_loader.h"
#include "train/adamw.h"
#include "train/attach_lora.h"
#include "train/decoder_kernels.h"
#include "train/grad_clip.h"
#include "train/lr_schedule.h"

namespace {

using namespace tailor;
using nlohmann::json;
namespace fs = std::filesystem;

at::Tensor int64_matrix(const json& rows) {
  std::vector<int64_t> flat;
  for (const auto& row : rows)
    for (const auto& v : row) flat.push_back(v.get<int64_t>());
  return at::tensor(flat, at::kLong).view({static_cast<int64_t>(rows.size()), -1});
}

// The trainer's loss (train/trainer.cpp causal_lm_loss): mean next-token cross-entropy over trained labels,
// through the lm_head + cross-entropy kernel the recipe's `kernels` switch selects.
at::Tensor causal_lm_loss(models::CausalLMImpl& model, const json& batch, kernels::KernelMode mode) {
  models::SequenceLayout layout;
  if (batch.contains("attention_mask")) layout.attention_mask = int64_matrix(batch["attention_mask"]);
  at::Tensor hidden = model.hidden_states(int64_matrix(batch["input_ids"]), layout);
  at::Tensor h = hidden.slice(1, 0, -1).reshape({-1, hidden.size(-1)});
  at::Tensor y = int64_matrix(batch["labels"]).slice(1, 1).reshape({-1});
  return kernels::linear_cross_entropy(h, model.lm_head_weight(), y, mode);
}

int run(const fs::path& model_dir, const fs::path& adapter_dir, const fs::path& case_file, const fs::path& out_dir) {
  std::ifstream in(case_file);
  const json job = json::parse(in);
  at::set_num_threads(job.value("threads", 1));
  const auto mode = kernels::parse_kernel_mode(job.value("kernels", "reference"));

  models::CausalLM model = models::load_causal_lm(model_dir);
  model->set_ops(train::decoder_ops(mode));
  train::BaseQuantizer quantize;
  if (job.value("quantize", "none") == "nf4")  // what `tailor run` does for lora.quantize: nf4
    quantize = [](const std::string&, const at::Tensor& w) { return lora::Nf4QuantizedWeight::quantize(w, 64, true); };
  lora::Adapter adapter =
      train::attach_lora(*model, lora::read_adapter_config(adapter_dir / lora::kAdapterConfigFile), quantize, mode);
  adapter.load_weights(adapter_dir);

  std::vector<std::string> names;
  std::vector<at::Tensor> params;
  for (auto& [name, tensor] : adapter.named_parameters()) names.push_back(name), params.push_back(tensor);
  const json& o = job.at("optim");
  train::AdamW optimizer(params, names,
                         {.lr = o.at("lr"), .beta1 = o.at("beta1"), .beta2 = o.at("beta2"), .eps = o.at("eps"),
                          .weight_decay = o.at("weight_decay")});
  const auto& batches = job.at("batches");
  train::LrSchedule schedule{train::parse_schedule_kind(o.at("schedule")), o.at("lr"), o.at("warmup"),
                             static_cast<int64_t>(batches.size())};

  json losses = json::array(), norms = json::array();
  model->train();
  for (size_t step = 0; step < batches.size(); ++step) {
    optimizer.set_lr(schedule.lr_at(static_cast<int64_t>(step)));
    at::Tensor loss = causal_lm_loss(*model, batches[step], mode);
    loss.backward();
    norms.push_back(train::clip_grad_norm(params, o.at("max_grad_norm")).item<double>());
    optimizer.step();
    optimizer.zero_grad();
    losses.push_back(loss.item<double>());
  }
  adapter.save(out_dir / "adapter");
  write_file_atomic(out_dir / "losses.json", json{{"loss", losses}, {"grad_norm", norms}}.dump());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::cerr << "usage: peft_model_driver MODEL_DIR ADAPTER_DIR CASE.json OUT_DIR\n";
    return 2;
  }
  try {
    return run(argv[1], argv[2], argv[3], argv[4]);
  } catch (const std::exception& e) {
    std::cerr << "peft_model_driver: " << e.what() << "\n";
    return 1;
  }
}
