// `tailor data prepare RECIPE` and `tailor data inspect RECIPE`: the recipe's dataset prepared (or its
// cache reused) with counts per source, and samples shown with the trained spans highlighted.
#include <CLI/CLI.hpp>
#include <unistd.h>

#include <cstdio>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "cli/verbs.h"
#include "core/error.h"
#include "data/pipeline/batch_iterator.h"
#include "data/pipeline/data_config.h"
#include "data/pipeline/prepare.h"
#include "data/tokenizer.h"
#include "train/recipe_data.h"

namespace tailor::cli {
namespace {

using namespace tailor::data;

using Prepared = train::RecipeData;

Prepared prepare_recipe(const std::string& recipe, const std::string& tokenizer_flag, bool force) {
  DataConfig config = load_data_config(recipe);
  if (!tokenizer_flag.empty()) config.tokenizer = tokenizer_flag;
  if (!config.tokenizer)
    throw InputError(recipe + ": no tokenizer: set 'model' or 'data.tokenizer', or pass --tokenizer");
  return train::prepare_recipe_data(config, force);
}

std::string dropped_text(const SourceStats& s) {
  std::string text;
  for (size_t r = 0; r < s.dropped.size(); ++r)
    if (s.dropped[r] && static_cast<DropReason>(r) != DropReason::Duplicate)
      text += (text.empty() ? "" : ", ") + std::string(drop_reason_name(static_cast<DropReason>(r))) + " " +
              std::to_string(s.dropped[r]);
  for (size_t r = 0; r < s.bad.counts.size(); ++r)
    if (s.bad.counts[r])
      text += (text.empty() ? "" : ", ") + std::string(reason_name(static_cast<BadReason>(r))) + " " +
              std::to_string(s.bad.counts[r]);
  return text.empty() ? "-" : text;
}

void print_row(const SourceStats& s) {
  std::string name = s.path == "total" ? "total" : std::filesystem::path(s.path).filename().string();
  std::cout << std::left << std::setw(24) << name << std::setw(11) << s.format << std::right << std::setw(9)
            << s.records << std::setw(9) << s.samples << std::setw(11) << s.tokens << std::setw(11) << s.trained_tokens
            << std::setw(10) << s.truncated << std::setw(7) << s.dropped[static_cast<size_t>(DropReason::Duplicate)]
            << std::setw(8) << s.train_docs << std::setw(6) << s.val_docs << "  " << dropped_text(s) << "\n";
}

void run_prepare(const std::string& recipe, const std::string& tokenizer, bool force, bool as_json) {
  Prepared p = prepare_recipe(recipe, tokenizer, force);
  const PrepareStats& stats = p.prepared.stats;
  if (as_json) {
    std::cout << stats.to_json() << "\n";
    return;
  }
  std::cout << std::left << std::setw(24) << "source" << std::setw(11) << "format" << std::right << std::setw(9)
            << "records" << std::setw(9) << "samples" << std::setw(11) << "tokens" << std::setw(11) << "trained"
            << std::setw(10) << "truncated" << std::setw(7) << "dups" << std::setw(8) << "train" << std::setw(6) << "val"
            << "  dropped / bad\n";
  for (const SourceStats& s : stats.sources) print_row(s);
  SourceStats total = stats.total();
  total.format = "";
  print_row(total);
  for (const std::string& example : total.bad.first_examples) std::cout << "  skipped: " << example << "\n";
  std::cout << std::fixed << std::setprecision(1) << "train: " << stats.train_rows << " rows, packing efficiency "
            << 100 * stats.train_efficiency << "%; val: " << stats.val_rows << " rows, " << 100 * stats.val_efficiency
            << "%\n";
  double mb = double(total.bytes) / 1e6;
  if (stats.cache_hit) std::cout << "cache: reused " << stats.cache_file << "\n";
  else
    std::cout << std::setprecision(2) << "cache: wrote " << stats.cache_file << " in " << stats.seconds << " s ("
              << mb / std::max(stats.seconds, 1e-9) << " MB/s of source data)\n";
}

// Trained spans in green on a terminal, between [[ ]] otherwise.
void print_sample(const Tokenizer& tokenizer, const Sample& s, bool colour) {
  size_t i = 0;
  while (i < s.ids.size()) {
    size_t j = i;
    while (j < s.ids.size() && s.trained[j] == s.trained[i]) ++j;
    std::string text = tokenizer.decode(std::span(s.ids).subspan(i, j - i));
    if (s.trained[i]) std::cout << (colour ? "\x1b[1;32m" : "[[") << text << (colour ? "\x1b[0m" : "]]");
    else std::cout << (colour ? "\x1b[2m" : "") << text << (colour ? "\x1b[0m" : "");
    i = j;
  }
  std::cout << "\n";
}

void run_inspect(const std::string& recipe, const std::string& tokenizer, int64_t n, const std::string& split_name) {
  Prepared p = prepare_recipe(recipe, tokenizer, false);
  Split split = split_name == "val" ? Split::Val : Split::Train;
  const PreparedDataset& data = *p.prepared.dataset;
  bool colour = ::isatty(::fileno(stdout));
  int64_t shown = 0;
  for (const auto& row : data.rows(split)) {
    for (int64_t doc : row) {
      if (shown == n) return;
      Sample s = data.document(doc);
      size_t trained = s.trained_count() - s.trained[0];
      std::cout << "── sample " << ++shown << " (" << split_name << ", source "
                << std::filesystem::path(p.prepared.stats.sources.at(data.source(doc)).path).filename().string() << ", "
                << s.ids.size() << " tokens, " << trained << " trained) ──\n";
      print_sample(*p.tokenizer, s, colour);
    }
  }
  if (shown == 0) std::cout << "the " << split_name << " split is empty\n";
}

const RegisterVerb data_verb(50, [](CLI::App& app) {
  CLI::App* data = app.add_subcommand("data", "Prepare a recipe's dataset (cached) or inspect its samples");
  data->require_subcommand(1);

  auto* prepare = data->add_subcommand("prepare", "Prepare the dataset and print counts per source");
  static std::string recipe, tokenizer, split = "train";
  static bool force = false, as_json = false;
  static int64_t n = 5;
  prepare->add_option("recipe", recipe, "Recipe YAML with a data: section")->required();
  prepare->add_option("--tokenizer", tokenizer, "Tokenizer (model folder, tokenizer.json, .model, .gguf)");
  prepare->add_flag("--force", force, "Rebuild even when the cache matches");
  prepare->add_flag("--json", as_json, "Print the statistics as JSON");
  prepare->callback([] { run_prepare(recipe, tokenizer, force, as_json); });

  auto* inspect = data->add_subcommand("inspect", "Show samples with the trained tokens highlighted");
  inspect->add_option("recipe", recipe, "Recipe YAML with a data: section")->required();
  inspect->add_option("--tokenizer", tokenizer, "Tokenizer (model folder, tokenizer.json, .model, .gguf)");
  inspect->add_option("--n", n, "How many samples")->check(CLI::Range(int64_t{1}, int64_t{1000000}));
  inspect->add_option("--split", split, "train or val")->check(CLI::IsMember({"train", "val"}));
  inspect->callback([] { run_inspect(recipe, tokenizer, n, split); });
});

}  // namespace
}  // namespace tailor::cli
