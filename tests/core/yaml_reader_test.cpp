#include "core/yaml_reader.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "core/suggest.h"

namespace {

TEST(Suggest, NearestWord) {
  std::vector<std::string> keys{"lr", "weight_decay", "warmup_steps", "schedule"};
  EXPECT_EQ(tailor::nearest_word("warmup_step", keys), "warmup_steps");
  EXPECT_EQ(tailor::nearest_word("weight_decy", keys), "weight_decay");
  EXPECT_EQ(tailor::nearest_word("completely_else", keys), "");
  EXPECT_EQ(tailor::unknown_key_message("shedule", keys), "unknown key 'shedule' (did you mean 'schedule'?)");
}

TEST(YamlReader, CollectsEveryError) {
  auto node = YAML::Load("lr: fast\nwarmup_step: 3\nschedule: cosin\nrank: 8\n");
  std::vector<std::string> errors;
  tailor::YamlReader reader(node, "r.yaml: optim", errors);
  double lr = 0;
  int warmup = 0, rank = 0;
  std::string schedule;
  reader.read("lr", lr);
  reader.read("warmup_steps", warmup);
  reader.read_choice("schedule", schedule, {"constant", "linear", "cosine"});
  reader.read("rank", rank);
  reader.finish();
  ASSERT_EQ(errors.size(), 3u);
  EXPECT_EQ(errors[0], "r.yaml: optim.lr: expected a number, got 'fast'");
  EXPECT_EQ(errors[1], "r.yaml: optim.schedule: 'cosin' is not one of constant | linear | cosine (did you mean 'cosine'?)");
  EXPECT_EQ(errors[2], "r.yaml: optim: unknown key 'warmup_step' (did you mean 'warmup_steps'?)");
  EXPECT_EQ(rank, 8);
}

TEST(YamlReader, ListAcceptsOneValue) {
  auto node = YAML::Load("targets: all-linear\nother: [q_proj, v_proj]\n");
  std::vector<std::string> errors, a, b;
  tailor::YamlReader reader(node, "x", errors);
  reader.read("targets", a);
  reader.read("other", b);
  reader.finish();
  EXPECT_TRUE(errors.empty());
  EXPECT_EQ(a, std::vector<std::string>{"all-linear"});
  EXPECT_EQ(b, (std::vector<std::string>{"q_proj", "v_proj"}));
}

TEST(YamlOverride, SetsNestedTypedValues) {
  auto root = YAML::Load("seed: 1\nlora:\n  r: 16\n");
  tailor::apply_override(root, "lora.r=8");
  tailor::apply_override(root, "optim.lr=1e-3");
  tailor::apply_override(root, "output_dir=runs/x");
  EXPECT_EQ(root["lora"]["r"].as<int>(), 8);
  EXPECT_DOUBLE_EQ(root["optim"]["lr"].as<double>(), 1e-3);
  EXPECT_EQ(root["output_dir"].as<std::string>(), "runs/x");
  EXPECT_EQ(root["seed"].as<int>(), 1);
  EXPECT_THROW(tailor::apply_override(root, "no_equals_sign"), tailor::InputError);
  EXPECT_THROW(tailor::apply_override(root, "seed.x=1"), tailor::InputError);
}

}  // namespace
