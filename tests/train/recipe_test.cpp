// Every built-in recipe loads and validates; recipe errors are all reported at once with suggestions;
// the run report is a self-contained page built from the metrics records.
#include "train/recipe.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "train/checkpoint.h"
#include "train/metrics.h"
#include "train/report.h"

namespace fs = std::filesystem;
using tailor::train::load_recipe;

namespace {

fs::path temp_dir(const std::string& name) {
  auto dir = fs::temp_directory_path() / ("tailor-" + name + "-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return dir;
}

TEST(Recipe, EveryBuiltinRecipeLoads) {
  const auto& all = tailor::train::builtin_recipes();
  ASSERT_GE(all.size(), 5u);
  for (const auto& r : all) {
    auto recipe = load_recipe(r.name, {"model=/some/model"});
    EXPECT_FALSE(r.description.empty()) << r.name;
    EXPECT_TRUE(r.yaml.starts_with("# " + r.name + ":")) << r.name << " must explain itself in a comment header";
    EXPECT_NE(r.yaml.find("tailor run " + r.name), std::string::npos) << r.name << " must say how to run it";
    EXPECT_TRUE(recipe.data.IsMap()) << r.name;
    EXPECT_GT(recipe.max_steps, 0) << r.name;
  }
}

TEST(Recipe, OverridesApplyAndBuiltinPathsAnchorToTheProject) {
  auto recipe = load_recipe("smollm2-135m-lora-sft", {"lora.r=8", "max_steps=3", "optim.schedule=linear"});
  EXPECT_EQ(recipe.lora.r, 8);
  EXPECT_EQ(recipe.max_steps, 3);
  EXPECT_EQ(recipe.optim.schedule, "linear");
  EXPECT_TRUE(fs::path(recipe.model).is_absolute());
  EXPECT_TRUE(recipe.model.ends_with(".cache/models/SmolLM2-135M-Instruct.Q4_1.gguf"));
}

TEST(Recipe, AllProblemsReportedAtOnceWithSuggestions) {
  try {
    load_recipe("smollm2-135m-lora-sft", {"lora.rank=8", "optim.schedule=cosin", "train.batch_size=zero", "max_step=3"});
    FAIL() << "bad recipe accepted";
  } catch (const tailor::InputError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("4 problems"), std::string::npos) << m;
    EXPECT_NE(m.find("unknown key 'rank' (did you mean 'r'?)"), std::string::npos) << m;
    EXPECT_NE(m.find("(did you mean 'cosine'?)"), std::string::npos) << m;
    EXPECT_NE(m.find("batch_size: expected an integer"), std::string::npos) << m;
    EXPECT_NE(m.find("unknown key 'max_step' (did you mean 'max_steps'?)"), std::string::npos) << m;
  }
}

TEST(Recipe, UnknownRecipeNamesTheBuiltins) {
  try {
    load_recipe("no-such-recipe", {});
    FAIL();
  } catch (const tailor::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("smollm2-135m-lora-sft"), std::string::npos);
  }
}

TEST(Report, BuiltFromMetricsWithPlotsSamplesAndRecipe) {
  auto dir = temp_dir("report");
  {
    tailor::train::MetricsLog log(dir / "metrics.jsonl");
    log.write({{"kind", "run"}, {"recipe", "demo"}, {"model", "m.gguf"}});
    for (int s = 1; s <= 5; ++s)
      log.write({{"kind", "train"}, {"step", s}, {"loss", 3.0 - 0.3 * s}, {"lr", 1e-3}, {"tokens_per_s", 100.0 + s}});
    log.write({{"kind", "eval"}, {"step", 5}, {"loss", 1.75}, {"perplexity", 5.75}, {"bits_per_byte", 1.1}});
    log.write({{"kind", "sample"}, {"stage", "before"}, {"prompt", "Q <b>"}, {"text", "old"}});
    log.write({{"kind", "sample"}, {"stage", "after"}, {"prompt", "Q <b>"}, {"text", "new & better"}});
  }
  std::ofstream(dir / "recipe.yaml") << "max_steps: 5\n";
  auto path = tailor::train::write_report(dir);
  std::stringstream html;
  html << std::ifstream(path).rdbuf();
  std::string page = html.str();
  EXPECT_NE(page.find("<svg"), std::string::npos);
  EXPECT_NE(page.find("<path d='M"), std::string::npos);      // the loss line was drawn
  EXPECT_NE(page.find("Q &lt;b&gt;"), std::string::npos);     // user text escaped
  EXPECT_NE(page.find("new &amp; better"), std::string::npos);
  EXPECT_NE(page.find("max_steps: 5"), std::string::npos);
  EXPECT_EQ(page.find("<script"), std::string::npos);          // self-contained, nothing to fetch or run
  tailor::train::remove_tree(dir);
}

TEST(Metrics, ResumeDropsRecordsAfterTheCheckpoint) {
  auto dir = temp_dir("metrics");
  {
    tailor::train::MetricsLog log(dir / "m.jsonl");
    for (int s = 1; s <= 4; ++s) log.write({{"kind", "train"}, {"step", s}});
  }
  { tailor::train::MetricsLog resumed(dir / "m.jsonl", 2); }
  auto records = tailor::train::read_metrics(dir / "m.jsonl");
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records.back()["step"], 2);
  tailor::train::remove_tree(dir);
}

}  // namespace
