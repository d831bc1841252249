#include <gtest/gtest.h>

#include "core/error.h"
#include "lora/adapter_config.h"

namespace tailor::lora {
namespace {

TEST(AdapterConfig, NameListMatchesFullPathOrDottedSuffix) {
  AdapterConfig c;
  c.target_modules = {"q_proj", "v_proj"};
  EXPECT_TRUE(c.targets("model.layers.0.self_attn.q_proj"));
  EXPECT_TRUE(c.targets("q_proj"));
  EXPECT_FALSE(c.targets("model.layers.0.self_attn.xq_proj"));
  EXPECT_FALSE(c.targets("model.layers.0.self_attn.k_proj"));
}

TEST(AdapterConfig, AllLinearSkipsLmHeadAndModulesToSave) {
  AdapterConfig c;
  c.target_regex = "all-linear";
  c.modules_to_save = {"embed_tokens"};
  std::vector<std::string> linears{"model.layers.0.mlp.up_proj", "lm_head", "model.embed_tokens"};
  EXPECT_EQ(select_lora_targets(c, linears), std::vector<std::string>{"model.layers.0.mlp.up_proj"});
}

TEST(AdapterConfig, RegexIsAFullMatch) {
  AdapterConfig c;
  c.target_regex = R"(.*\.layers\.1\..*proj)";
  EXPECT_TRUE(c.targets("model.layers.1.mlp.down_proj"));
  EXPECT_FALSE(c.targets("model.layers.10.mlp.down_proj"));
}

TEST(AdapterConfig, ExcludeAndNoMatchIsAnError) {
  AdapterConfig c;
  c.target_modules = {"q_proj"};
  c.exclude_modules = {"layers.0.self_attn.q_proj"};
  EXPECT_FALSE(c.targets("model.layers.0.self_attn.q_proj"));
  EXPECT_THROW(select_lora_targets(c, {"model.layers.0.self_attn.q_proj"}), InputError);
}

TEST(AdapterConfig, RankAndAlphaPatterns) {
  AdapterConfig c;
  c.r = 8;
  c.lora_alpha = 16;
  c.rank_pattern = {{"down_proj", 4}};
  c.alpha_pattern = {{"layers\\.1\\.mlp\\.down_proj", 2}};
  EXPECT_EQ(c.options_for("model.layers.0.mlp.down_proj").r, 4);
  EXPECT_EQ(c.options_for("model.layers.0.mlp.up_proj").r, 8);
  EXPECT_DOUBLE_EQ(c.options_for("model.layers.1.mlp.down_proj").alpha, 2);
  EXPECT_DOUBLE_EQ(c.options_for("model.layers.0.mlp.down_proj").alpha, 16);
}

TEST(AdapterConfig, JsonRoundTrip) {
  AdapterConfig c;
  c.r = 16;
  c.lora_alpha = 32;
  c.lora_dropout = 0.05;
  c.use_rslora = true;
  c.use_dora = true;
  c.init_lora_weights = LoraInit::kGaussian;
  c.target_modules = {"q_proj", "v_proj"};
  c.modules_to_save = {"lm_head"};
  c.trainable_token_indices = {{"embed_tokens", {3, 5}}};
  AdapterConfig back = adapter_config_from_json(adapter_config_to_json(c, {}), "test");
  EXPECT_EQ(back.r, 16);
  EXPECT_DOUBLE_EQ(back.lora_alpha, 32);
  EXPECT_DOUBLE_EQ(back.lora_dropout, 0.05);
  EXPECT_TRUE(back.use_rslora);
  EXPECT_TRUE(back.use_dora);
  EXPECT_EQ(back.init_lora_weights, LoraInit::kGaussian);
  EXPECT_EQ(back.target_modules, (std::vector<std::string>{"q_proj", "v_proj"}));
  EXPECT_EQ(back.modules_to_save, std::vector<std::string>{"lm_head"});
  EXPECT_EQ(back.trainable_token_indices.at("embed_tokens"), (std::vector<int64_t>{3, 5}));
}

TEST(AdapterConfig, BadInputNamesTheKey) {
  try {
    adapter_config_from_json(R"({"r": 8, "bias": "all"})", "adapter_config.json");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("'bias'"), std::string::npos);
  }
  EXPECT_THROW(adapter_config_from_json(R"({"r": "eight"})", "x"), InputError);
  EXPECT_THROW(adapter_config_from_json(R"({"peft_type": "IA3"})", "x"), InputError);
  EXPECT_THROW(adapter_config_from_json("{", "x"), InputError);
  // Unknown keys are ignored, like PEFT.
  EXPECT_EQ(adapter_config_from_json(R"({"r": 4, "some_future_key": 1})", "x").r, 4);
}

}  // namespace
}  // namespace tailor::lora
