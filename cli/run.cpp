// `tailor run RECIPE [key.sub=value ...]`: the main job. `tailor validate` checks a recipe without
// running it and shows what it resolves to.
#include <CLI/CLI.hpp>

#include <iostream>

#include "cli/verbs.h"
#include "export/export.h"
#include "train/metrics.h"
#include "train/recipe.h"
#include "train/trainer.h"

namespace tailor::cli {
namespace {

struct RunArgs {
  std::string recipe;
  std::vector<std::string> overrides;
};

void add_recipe_args(CLI::App* verb, RunArgs& args) {
  verb->add_option("recipe", args.recipe, "Built-in recipe name (see 'tailor ls') or a YAML file")->required();
  verb->add_option("overrides", args.overrides, "key.sub=value overrides, e.g. model=PATH max_steps=20 lora.r=8");
}

void run(const RunArgs& args) {
  train::Recipe recipe = train::load_recipe(args.recipe, args.overrides);
  auto outcome = train::run_recipe(recipe);
  const auto records = train::read_metrics(outcome.run_dir / "metrics.jsonl");
  for (const char* stage : {"before", "after"})
    for (const auto& r : records)
      if (r.value("kind", "") == "sample" && r.value("stage", "") == stage)
        std::cout << "[" << stage << " training] " << r.value("prompt", "") << "\n  -> " << r.value("text", "") << "\n";
  // Losses from the whole log: a resumed run trained part of the curve in an earlier process.
  double first_loss = 0, last_loss = 0;
  bool seen = false;
  for (const auto& r : records)
    if (r.value("kind", "") == "train" && r.contains("loss") && r["loss"].is_number()) {
      if (!seen) first_loss = r["loss"].get<double>();
      last_loss = r["loss"].get<double>();
      seen = true;
    }
  std::cout << (outcome.interrupted ? "stopped" : "done") << " after " << outcome.steps << " steps";
  if (outcome.already_complete) std::cout << " (already complete: nothing to train; remove the run folder to start over)";
  std::cout << ": loss " << first_loss << " -> " << last_loss << "\n"
            << "  adapter (PEFT): " << outcome.adapter_dir.string() << "\n"
            << "  report:         " << outcome.report.string() << "\n"
            << "  metrics:        " << (outcome.run_dir / "metrics.jsonl").string() << "\n";
  if (outcome.interrupted || recipe.exports.empty()) return;
  // The recipe's `export:` list, once training finished; a resumed run that finishes exports then.
  for (const auto& result : exporting::export_run(recipe.model, outcome.run_dir, recipe.exports)) {
    std::cout << "  export:         " << result.out.string() << "\n";
    for (const auto& note : result.notes) std::cout << "    " << note << "\n";
  }
}

const RegisterVerb run_verb(10, [](CLI::App& app) {
  static RunArgs args;
  auto* verb = app.add_subcommand("run", "Fine-tune: run a recipe (LoRA / QLoRA), resuming from its last checkpoint");
  add_recipe_args(verb, args);
  verb->callback([] { run(args); });
});

}  // namespace
}  // namespace tailor::cli
