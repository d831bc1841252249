// Decoder behaviour that does not need a reference implementation: parameter names equal the
// inventory (HF names), loading errors name the tensor, incremental decoding with the KV cache equals
// one full pass, packed documents equal separate runs, and the LoRA / kernels seams take effect.
// Numerical parity with transformers is tests/models/test_parity_transformers.py.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <cmath>
#include <set>

#include "core/error.h"
#include "tests/support/cuda.h"
#include "models/generator.h"
#include "models/model_loader.h"

namespace tailor::models {
namespace {

ModelConfig tiny_config(const std::string& arch, const std::string& extra = "") {
  return parse_hf_config(R"({"architectures": [")" + arch + R"("], "vocab_size": 97, "hidden_size": 32,
      "intermediate_size": 48, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
      "head_dim": 8, "sliding_window": 5, "attention_bias": true)" + extra + "}",
                         "tiny config");
}

std::map<std::string, at::Tensor> random_weights(const ModelConfig& c, uint64_t seed = 0) {
  at::manual_seed(seed);
  std::map<std::string, at::Tensor> w;
  for (const TensorInfo& t : model_tensors(c)) w[t.hf_name] = at::randn(t.shape) * 0.3;
  return w;
}

CausalLM tiny_model(const ModelConfig& c) {
  CausalLM model(c, at::TensorOptions().dtype(at::kFloat));
  load_weights(*model, MapTensorSource(random_weights(c)));
  return model;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(Decoder, ParameterNamesAreTheHfNames) {
  for (const char* arch : {"LlamaForCausalLM", "Phi3ForCausalLM", "Gemma3ForCausalLM", "Qwen3ForCausalLM"}) {
    ModelConfig c = tiny_config(arch);
    CausalLM model(c, at::TensorOptions());
    std::set<std::string> params, expected;
    for (const auto& p : model->named_parameters()) params.insert(p.key());
    for (const TensorInfo& t : model_tensors(c)) expected.insert(t.hf_name);
    EXPECT_EQ(params, expected) << arch;
  }
}

TEST(Decoder, MissingTensorAndShapeMismatchAreNamed) {
  ModelConfig c = tiny_config("LlamaForCausalLM");
  auto weights = random_weights(c);
  weights.erase("model.layers.1.mlp.up_proj.weight");
  CausalLM model(c, at::TensorOptions());
  std::string missing = error_of([&] { load_weights(*model, MapTensorSource(weights, "ckpt")); });
  EXPECT_NE(missing.find("ckpt: missing tensor 'model.layers.1.mlp.up_proj.weight'"), std::string::npos) << missing;

  weights = random_weights(c);
  weights["model.layers.0.self_attn.k_proj.weight"] = at::zeros({8, 32});
  std::string shape = error_of([&] { load_weights(*model, MapTensorSource(weights, "ckpt")); });
  EXPECT_NE(shape.find("tensor 'model.layers.0.self_attn.k_proj.weight': shape [8, 32], expected [16, 32]"),
            std::string::npos)
      << shape;
}

TEST(Decoder, KvCacheDecodingEqualsOneFullPass) {
  torch::NoGradGuard no_grad;
  for (const char* arch : {"MistralForCausalLM", "Gemma2ForCausalLM"}) {  // sliding windows, softcapping
    CausalLM model = tiny_model(tiny_config(arch));
    at::Tensor ids = at::randint(97, {1, 12}, at::kLong);
    at::Tensor full = model->forward(ids);
    KvCache cache = model->new_cache(1, 12);
    at::Tensor first = model->forward(ids.narrow(1, 0, 7), {}, &cache);
    std::vector<at::Tensor> steps = {first};
    for (int64_t t = 7; t < 12; ++t) steps.push_back(model->forward(ids.narrow(1, t, 1), {}, &cache));
    EXPECT_LT((at::cat(steps, 1) - full).abs().max().item<float>(), 1e-4) << arch;
  }
}

TEST(Decoder, PackedDocumentsEqualSeparateRuns) {
  torch::NoGradGuard no_grad;
  CausalLM model = tiny_model(tiny_config("Qwen2ForCausalLM"));
  at::Tensor a = at::randint(97, {1, 6}, at::kLong), b = at::randint(97, {1, 9}, at::kLong);
  at::Tensor row = at::cat({a, b, at::zeros({1, 2}, at::kLong)}, 1);
  at::Tensor packed = model->forward(row, packed_layout({{0, 6, 15}}, 17));
  EXPECT_LT((packed.narrow(1, 0, 6) - model->forward(a)).abs().max().item<float>(), 1e-5);
  EXPECT_LT((packed.narrow(1, 6, 9) - model->forward(b)).abs().max().item<float>(), 1e-5);
  // Without the boundaries the second document would see the first.
  EXPECT_GT((model->forward(row).narrow(1, 6, 9) - model->forward(b)).abs().max().item<float>(), 1e-3);
  EXPECT_NE(error_of([] { packed_layout({{0, 6, 4}}, 17); }).find("not increasing"), std::string::npos);
}

// A stand-in for a LoRA wrapper: the base projection plus a constant.
class ShiftedLinear : public LinearLike {
 public:
  explicit ShiftedLinear(std::shared_ptr<LinearLike> base) : base_(register_module("base_layer", base)) {}
  at::Tensor forward(const at::Tensor& x) override { return base_->forward(x) + 0.5; }
  int64_t in_features() const override { return base_->in_features(); }
  int64_t out_features() const override { return base_->out_features(); }

 private:
  std::shared_ptr<LinearLike> base_;
};

TEST(Decoder, LinearSlotsCanBeWrapped) {
  torch::NoGradGuard no_grad;
  CausalLM model = tiny_model(tiny_config("Phi3ForCausalLM"));
  at::Tensor ids = at::randint(97, {1, 5}, at::kLong);
  at::Tensor before = model->forward(ids);
  auto slots = model->linear_slots();
  ASSERT_EQ(slots.size(), 8u);
  EXPECT_EQ(slots[0].info.module, "model.layers.0.self_attn.qkv_proj");
  EXPECT_EQ(slots[0].module->out_features(), (4 + 2 * 2) * 8);
  slots[0].replace(std::make_shared<ShiftedLinear>(slots[0].module));
  EXPECT_GT((model->forward(ids) - before).abs().max().item<float>(), 1e-3);
  bool renamed = false;
  for (const auto& p : model->named_parameters())
    renamed |= p.key() == "model.layers.0.self_attn.qkv_proj.base_layer.weight";
  EXPECT_TRUE(renamed);
}

TEST(Decoder, DecoderOpsAreTheOnesCalled) {
  torch::NoGradGuard no_grad;
  CausalLM model = tiny_model(tiny_config("LlamaForCausalLM"));
  at::Tensor ids = at::randint(97, {1, 5}, at::kLong);
  at::Tensor before = model->forward(ids);
  int calls = 0;
  DecoderOps ops = reference_decoder_ops();
  auto reference = ops.rms_norm;
  ops.rms_norm = [&](const at::Tensor& x, const at::Tensor& w, double eps, NormKind kind) {
    ++calls;
    return reference(x, w, eps, kind);
  };
  model->set_ops(ops);
  EXPECT_LT((model->forward(ids) - before).abs().max().item<float>(), 1e-6);
  EXPECT_EQ(calls, 2 * 2 + 1);
}

TEST(Decoder, CudaMatchesCpuInFloat32AndBfloat16) {
  TAILOR_REQUIRE_CUDA();
  torch::NoGradGuard no_grad;
  for (const char* arch : {"LlamaForCausalLM", "Gemma2ForCausalLM", "Phi3ForCausalLM"}) {
    ModelConfig c = tiny_config(arch);
    CausalLM cpu = tiny_model(c);
    at::Tensor ids = at::randint(97, {2, 9}, at::kLong);
    SequenceLayout padded;
    padded.attention_mask = at::ones({2, 9}, at::kLong);
    padded.attention_mask[1].narrow(0, 6, 3).zero_();
    at::Tensor expected = cpu->forward(ids, padded);
    for (at::ScalarType dtype : {at::kFloat, at::kBFloat16}) {
      CausalLM gpu(c, at::TensorOptions().dtype(dtype).device(at::kCUDA));
      load_weights(*gpu, MapTensorSource(random_weights(c)));
      at::Tensor got = gpu->forward(ids, padded).to(at::kCPU).to(at::kFloat).narrow(1, 0, 6);
      EXPECT_LT((got - expected.narrow(1, 0, 6)).abs().max().item<float>(), dtype == at::kFloat ? 1e-3 : 0.5) << arch;
    }
  }
}

TEST(Generator, GreedyIsArgmaxAndStopsOnStopIds) {
  CausalLM model = tiny_model(tiny_config("LlamaForCausalLM"));
  SamplingOptions greedy;
  greedy.max_new_tokens = 6;
  GenerationResult r = generate(*model, {1, 2, 3}, greedy);
  ASSERT_EQ(r.tokens.size(), 6u);
  {
    torch::NoGradGuard no_grad;
    at::Tensor logits = model->forward(at::tensor(std::vector<int64_t>{1, 2, 3}, at::kLong).view({1, 3}));
    EXPECT_EQ(logits[0][2].argmax().item<int64_t>(), r.tokens[0]);
  }
  greedy.stop_ids = {r.tokens[2]};
  GenerationResult stopped = generate(*model, {1, 2, 3}, greedy);
  EXPECT_TRUE(stopped.stopped);
  EXPECT_LE(stopped.tokens.size(), 3u);
  EXPECT_EQ(stopped.tokens.back(), r.tokens[2]);
}

TEST(Generator, SamplingFiltersFollowTransformers) {
  at::Tensor logits = at::tensor(std::vector<float>{1.0f, 3.0f, 2.0f, -1.0f});
  SamplingOptions o;
  o.temperature = 1.0;
  o.top_k = 2;
  at::Tensor k = process_logits(logits, {}, o);
  EXPECT_TRUE(std::isinf(k[0].item<float>()) && std::isinf(k[3].item<float>()));
  EXPECT_FLOAT_EQ(k[1].item<float>(), 3.0f);
  o.top_k = 0;
  o.top_p = 0.5;  // softmax ≈ [.09, .67, .24, .01]: 3.0 alone holds more than half
  at::Tensor p = process_logits(logits, {}, o);
  EXPECT_EQ((p > -1e30).sum().item<int64_t>(), 1);
  o.top_p = 1.0;
  o.repetition_penalty = 2.0;
  o.temperature = 0;
  at::Tensor r = process_logits(logits, {1, 3}, o);
  EXPECT_FLOAT_EQ(r[1].item<float>(), 1.5f);   // positive: divided
  EXPECT_FLOAT_EQ(r[3].item<float>(), -2.0f);  // negative: multiplied
  EXPECT_FLOAT_EQ(r[2].item<float>(), 2.0f);   // unseen: unchanged
}

TEST(Generator, SeededSamplingIsReproducible) {
  CausalLM model = tiny_model(tiny_config("LlamaForCausalLM"));
  SamplingOptions o;
  o.max_new_tokens = 8;
  o.temperature = 1.0;
  o.seed = 42;
  EXPECT_EQ(generate(*model, {1, 2}, o).tokens, generate(*model, {1, 2}, o).tokens);
}

}  // namespace
}  // namespace tailor::models
