// Activation checkpointing: a model whose decoder layers are checkpointed gives the same loss and the
// same gradients as the plain model, with LoRA dropout on (the recomputation must replay the dropout
// masks of the first pass) and with a trainable embedding (the checkpointed layers' inputs need grad).
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <map>

#include "models/model_loader.h"
#include "train/activation_checkpoint.h"
#include "train/attach_lora.h"

namespace tailor::train {
namespace {

models::CausalLM tiny_model() {
  auto config = models::parse_hf_config(R"({"architectures": ["LlamaForCausalLM"], "vocab_size": 61,
      "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 3, "num_attention_heads": 4,
      "num_key_value_heads": 2, "head_dim": 8})", "tiny config");
  at::manual_seed(0);
  std::map<std::string, at::Tensor> weights;
  for (const auto& t : models::model_tensors(config)) weights[t.hf_name] = at::randn(t.shape) * 0.3;
  models::CausalLM model(config, at::TensorOptions().dtype(at::kFloat));
  models::load_weights(*model, models::MapTensorSource(weights));
  return model;
}

struct Pass {
  double loss;
  std::map<std::string, at::Tensor> grads;
};

// One training forward/backward from a fixed RNG state; returns the loss and every trainable gradient.
Pass train_pass(bool checkpointing, const std::vector<std::string>& modules_to_save) {
  models::CausalLM model = tiny_model();
  lora::AdapterConfig config;
  config.r = 4;
  config.lora_alpha = 8;
  config.lora_dropout = 0.3;
  config.target_regex = "all-linear";
  config.init_lora_weights = lora::parse_lora_init("gaussian");
  config.modules_to_save = modules_to_save;
  at::manual_seed(1);
  lora::Adapter adapter = attach_lora(*model, config);
  {
    at::NoGradGuard no_grad;  // non-zero B, so every LoRA path carries gradient to A
    for (auto& [name, p] : adapter.named_parameters())
      if (name.find("lora_B") != std::string::npos) p.normal_(0.0, 0.1);
  }
  set_activation_checkpointing(*model, checkpointing);
  model->train();
  at::manual_seed(7);  // the dropout masks
  at::Tensor ids = at::randint(61, {2, 9}, at::kLong);
  at::Tensor logits = model->forward(ids);
  at::Tensor loss = at::cross_entropy_loss(logits.slice(1, 0, -1).reshape({-1, 61}), ids.slice(1, 1).reshape({-1}));
  loss.backward();
  Pass pass{loss.item<double>(), {}};
  for (auto& [name, p] : adapter.named_parameters()) {
    EXPECT_TRUE(p.grad().defined()) << name << (checkpointing ? " (checkpointed)" : "");
    if (p.grad().defined()) pass.grads[name] = p.grad().clone();
  }
  return pass;
}

void expect_same(const Pass& plain, const Pass& checkpointed) {
  EXPECT_DOUBLE_EQ(plain.loss, checkpointed.loss);
  ASSERT_EQ(plain.grads.size(), checkpointed.grads.size());
  for (const auto& [name, g] : plain.grads) {
    const at::Tensor& c = checkpointed.grads.at(name);
    EXPECT_TRUE(at::allclose(g, c, 1e-5, 1e-7)) << name << ": max |diff| " << (g - c).abs().max().item<double>();
  }
}

TEST(ActivationCheckpointing, SameLossAndGradientsWithDropout) {
  Pass plain = train_pass(false, {}), checkpointed = train_pass(true, {});
  EXPECT_EQ(plain.grads.size(), 3u * 7 * 2);  // lora_A and lora_B of 7 projections in 3 layers
  expect_same(plain, checkpointed);
}

TEST(ActivationCheckpointing, GradientReachesATrainableEmbeddingThroughCheckpointedLayers) {
  Pass plain = train_pass(false, {"embed_tokens"}), checkpointed = train_pass(true, {"embed_tokens"});
  expect_same(plain, checkpointed);
  bool embedding = false;
  for (const auto& [name, g] : checkpointed.grads)
    if (name.find("embed_tokens") != std::string::npos) embedding = g.abs().sum().item<double>() > 0;
  EXPECT_TRUE(embedding);
}

TEST(ActivationCheckpointing, EvaluationWithoutGradRunsTheLayersDirectly) {
  models::CausalLM model = tiny_model();
  at::Tensor ids = at::randint(61, {1, 5}, at::kLong);
  at::NoGradGuard no_grad;
  at::Tensor plain = model->forward(ids);
  set_activation_checkpointing(*model, true);
  EXPECT_TRUE(at::equal(plain, model->forward(ids)));
}

}  // namespace
}  // namespace tailor::train
