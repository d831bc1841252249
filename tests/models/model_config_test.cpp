// config.json parsing: both rope layouts, the per-architecture quirks, and errors that name the key.
#include <gtest/gtest.h>

#include "core/error.h"
#include "models/model_config.h"
#include "models/tensor_inventory.h"

namespace tailor::models {
namespace {

std::string config(const std::string& arch, const std::string& extra) {
  return R"({"architectures": [")" + arch + R"("], "vocab_size": 1000, "hidden_size": 64,
    "intermediate_size": 128, "num_hidden_layers": 4, "num_attention_heads": 4, "num_key_value_heads": 2)" +
         (extra.empty() ? "" : ", " + extra) + "}";
}

void expect_error(const std::string& json, const std::string& needle) {
  try {
    parse_hf_config(json, "config.json");
    FAIL() << "no error for " << json;
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("config.json"), std::string::npos) << e.what();
  }
}

TEST(ModelConfig, LegacyLlama3Rope) {
  ModelConfig c = parse_hf_config(config("LlamaForCausalLM", R"("rope_theta": 500000.0, "rope_scaling":
      {"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
       "original_max_position_embeddings": 8192}, "tie_word_embeddings": true)"), "config.json");
  EXPECT_EQ(c.arch->name, "llama");
  EXPECT_EQ(c.rope.type, RopeType::Llama3);
  EXPECT_DOUBLE_EQ(c.rope.theta, 500000.0);
  EXPECT_DOUBLE_EQ(c.rope.factor, 32.0);
  EXPECT_EQ(c.rope.original_max_position_embeddings, 8192);
  EXPECT_EQ(c.head_dim, 16);
  EXPECT_EQ(c.num_kv_heads, 2);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_DOUBLE_EQ(c.attention_scale, 0.25);
}

TEST(ModelConfig, TransformersV5NestedRopeParameters) {
  ModelConfig c = parse_hf_config(config("Gemma3ForCausalLM", R"("head_dim": 32, "rope_parameters": {
      "full_attention": {"rope_type": "linear", "factor": 8.0, "rope_theta": 1000000.0},
      "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0}},
      "sliding_window": 512, "query_pre_attn_scalar": 256)"), "config.json");
  EXPECT_EQ(c.rope.type, RopeType::Linear);
  EXPECT_DOUBLE_EQ(c.rope.theta, 1e6);
  EXPECT_DOUBLE_EQ(c.sliding_rope.theta, 1e4);
  // No layer_types: gemma3's default pattern (every 6th layer full) over 4 layers.
  EXPECT_EQ(c.layer_is_sliding, (std::vector<bool>{true, true, true, true}));
  EXPECT_DOUBLE_EQ(c.attention_scale, 1.0 / 16.0);
  EXPECT_TRUE(c.tie_word_embeddings);
}

TEST(ModelConfig, Gemma2DefaultsAndQwen2Biases) {
  ModelConfig g = parse_hf_config(config("Gemma2ForCausalLM", R"("head_dim": 16)"), "config.json");
  EXPECT_EQ(g.layer_is_sliding, (std::vector<bool>{true, false, true, false}));
  EXPECT_EQ(g.sliding_window, 4096);
  EXPECT_DOUBLE_EQ(*g.attn_logit_softcapping, 50.0);
  EXPECT_DOUBLE_EQ(*g.final_logit_softcapping, 30.0);

  ModelConfig q = parse_hf_config(config("Qwen2ForCausalLM", R"("sliding_window": 4096, "use_sliding_window": false)"),
                                  "config.json");
  EXPECT_FALSE(q.sliding_window.has_value());
  int biases = 0;
  for (const TensorInfo& t : model_tensors(q)) biases += t.hf_name.ends_with(".bias");
  EXPECT_EQ(biases, 4 * 3);  // q, k, v in each of 4 layers, never o_proj
}

TEST(ModelConfig, Phi3FusedShapes) {
  ModelConfig c = parse_hf_config(config("Phi3ForCausalLM", R"("partial_rotary_factor": 0.5)"), "config.json");
  EXPECT_EQ(c.rotary_dim(), 8);
  std::vector<LinearLayerInfo> linears = linear_layers(c);
  ASSERT_EQ(linears.size(), 4u * 4u);
  EXPECT_EQ(linears[0].module, "model.layers.0.self_attn.qkv_proj");
  EXPECT_EQ(linears[0].out_features, (4 + 2 * 2) * 16);
  EXPECT_EQ(linears[2].module, "model.layers.0.mlp.gate_up_proj");
  EXPECT_EQ(linears[2].out_features, 256);
  EXPECT_EQ(linears[2].gguf_weight, "blk.0.ffn_up.weight");
}

TEST(ModelConfig, ErrorsNameTheKey) {
  expect_error(config("GPT2LMHeadModel", ""), "supported: llama");
  expect_error(R"({"architectures": ["LlamaForCausalLM"], "vocab_size": 10})", "hidden_size");
  expect_error(config("LlamaForCausalLM", R"("rope_scaling": {"rope_type": "dynamic", "factor": 2.0})"), "dynamic");
  expect_error(config("LlamaForCausalLM", R"("num_key_value_heads": 3)"), "num_key_value_heads");
  expect_error(config("LlamaForCausalLM", R"("hidden_act": "relu")"), "hidden_act");
  expect_error("{not json", "not valid JSON");
  expect_error(config("LlamaForCausalLM", R"("vocab_size": "many")"), "vocab_size");
}

}  // namespace
}  // namespace tailor::models
