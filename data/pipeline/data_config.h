// The `data:` section of a recipe. The trainer's recipe parser hands its `data` node to
// parse_data_config(); `tailor data` reads a recipe file with load_data_config().
//
//   data:
//     sources:                      # one or more
//       - path: train.jsonl         # .jsonl, .json (array), .txt; relative to the recipe's folder
//         format: auto              # auto | messages | sharegpt | alpaca | completion | text
//         weight: 0.8               # share of the training mix (normalized over sources); when no
//                                   # source sets one, every document is used once per epoch
//         split: train              # train | val (a separate validation source)
//         columns: {messages: dialog, content: text}   # canonical field → the file's field
//         separator: ""             # .txt only: a line equal to this ends a document (default: blank line)
//     max_seq_len: 2048
//     packing: true                 # pack documents into rows of max_seq_len; false: one per row, padded
//     length_policy: truncate       # truncate | drop | split (text only)
//     mask: assistant               # assistant | all | last_turn
//     val_ratio: 0.0                # share of train-split documents held out for validation
//     seed: 42
//     skip_bad: false               # skip bad lines (counted, first few reported) instead of stopping
//     dedupe: true                  # drop exact duplicates of a rendered sample
//     cache_dir: .cache/data        # where the prepared HDF5 file lives; relative to the recipe's folder
//     threads: 0                    # tokenizer threads; 0: all cores
//     tokenizer: path               # optional; default: the recipe's model
//     chat_template: file.jinja     # optional; default: the tokenizer's template
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "data/pipeline/record.h"
#include "data/pipeline/record_parser.h"
#include "data/pipeline/sample.h"
#include "data/pipeline/transform.h"

namespace YAML {
class Node;
}

namespace tailor::data {

enum class SplitRole { Train, Val };

struct SourceConfig {
  std::filesystem::path path;
  SourceFormat format = SourceFormat::Auto;
  double weight = 1.0;
  bool weight_given = false;  // no source giving a weight means: every document once per epoch
  SplitRole split = SplitRole::Train;
  ColumnMap columns;
  std::string separator;
};

struct DataConfig {
  std::vector<SourceConfig> sources;
  size_t max_seq_len = 2048;
  bool packing = true;
  LengthPolicy length_policy = LengthPolicy::Truncate;
  MaskMode mask = MaskMode::Assistant;
  double val_ratio = 0.0;
  uint64_t seed = 42;
  bool skip_bad = false;
  bool dedupe = true;
  std::filesystem::path cache_dir;
  int threads = 0;
  std::optional<std::filesystem::path> tokenizer;
  std::optional<std::filesystem::path> chat_template;

  // Every setting that changes the prepared data, in a fixed textual form (part of the cache key).
  // Paths are absolute; threads and cache_dir are left out (they do not change the result).
  std::string canonical() const;
};

// Parses a `data:` node. base_dir resolves relative paths; context prefixes messages ("recipe.yaml").
// All problems are collected and thrown as one InputError ("...: 3 problems: a; b; c"); an unknown key
// names the nearest valid key.
DataConfig parse_data_config(const YAML::Node& data, const std::filesystem::path& base_dir,
                             const std::string& context);

// Reads a recipe file and parses its `data:` section.
DataConfig load_data_config(const std::filesystem::path& recipe);

const char* mask_name(MaskMode mode);
const char* length_policy_name(LengthPolicy policy);

}  // namespace tailor::data
