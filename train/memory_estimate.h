// What `tailor validate` prints: the memory a recipe's run needs, per component, from the model config
// alone (no weights loaded). Steady state of a training step; loading briefly holds one dense copy of a
// layer being quantized on top. Activations follow what this implementation saves for backward.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/model_config.h"
#include "train/recipe.h"

namespace tailor::train {

struct MemoryComponent {
  std::string name;    // "base weights", "adapter", "gradients", "optimizer", "activations", ...
  int64_t bytes = 0;
  std::string detail;  // how it was counted, e.g. "210 linear weights, nf4 (4.13 bits)"
};

struct MemoryEstimate {
  std::vector<MemoryComponent> components;
  int64_t trainable_parameters = 0;
  int64_t total_bytes() const;
};

// tokens_per_row: the data's max_seq_len (rows are packed or padded to it).
MemoryEstimate estimate_memory(const Recipe& recipe, const models::ModelConfig& config, int64_t tokens_per_row);

}  // namespace tailor::train
