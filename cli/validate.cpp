// `tailor validate RECIPE [key.sub=value ...]`: checks a recipe as `tailor run` would (every problem at
// once, exit 2), without loading weights or data, then prints the resolved recipe and the memory a run
// needs per component.
#include <CLI/CLI.hpp>

#include <iomanip>
#include <iostream>
#include <sstream>

#include "cli/verbs.h"
#include "data/pipeline/data_config.h"
#include "models/model_loader.h"
#include "train/memory_estimate.h"
#include "train/recipe.h"

namespace tailor::cli {
namespace {

struct ValidateArgs {
  std::string recipe;
  std::vector<std::string> overrides;
};

std::string mib(int64_t bytes) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(1) << double(bytes) / (1024.0 * 1024.0) << " MiB";
  return out.str();
}

void validate(const ValidateArgs& args) {
  train::Recipe recipe = train::load_recipe(args.recipe, args.overrides);
  data::DataConfig data = data::parse_data_config(recipe.data, recipe.base_dir, recipe.source);
  models::ModelConfig config = models::load_model_config(recipe.model);
  std::cout << "# " << recipe.source << ", resolved\n" << train::to_yaml(recipe);

  auto estimate = train::estimate_memory(recipe, config, int64_t(data.max_seq_len));
  std::cout << "\n# memory estimate (" << config.arch->name << ", " << config.num_layers << " layers, hidden "
            << config.hidden_size << ", trainable parameters " << estimate.trainable_parameters << ")\n";
  for (const auto& c : estimate.components)
    std::cout << std::left << std::setw(30) << c.name << std::right << std::setw(12) << mib(c.bytes) << "  " << c.detail
              << "\n";
  std::cout << std::left << std::setw(30) << "total" << std::right << std::setw(12) << mib(estimate.total_bytes()) << "\n";
}

const RegisterVerb validate_verb(40, [](CLI::App& app) {
  static ValidateArgs args;
  auto* verb = app.add_subcommand("validate", "Check a recipe, print it resolved and the memory its run needs");
  verb->add_option("recipe", args.recipe, "Built-in recipe name (see 'tailor ls') or a YAML file")->required();
  verb->add_option("overrides", args.overrides, "key.sub=value overrides, as for 'tailor run'");
  verb->callback([] { validate(args); });
});

}  // namespace
}  // namespace tailor::cli
