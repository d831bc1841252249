// A recipe's dataset as `tailor run` and `tailor data prepare/inspect` both need it: the tokenizer the
// data config names, its chat encoder (the tokenizer's template or data.chat_template), and the prepared
// dataset (the HDF5 cache reused when its key matches). One function, so the two verbs cannot drift.
#pragma once

#include <memory>

#include "data/pipeline/chat_encoder.h"
#include "data/pipeline/data_config.h"
#include "data/pipeline/prepare.h"
#include "data/tokenizer.h"

namespace tailor::train {

struct RecipeData {
  std::unique_ptr<data::Tokenizer> tokenizer;
  std::unique_ptr<data::ChatEncoder> chat;  // null when there is no chat template
  data::PrepareResult prepared;
};

// config.tokenizer must be set (the recipe's model by default). force rebuilds the cache.
RecipeData prepare_recipe_data(const data::DataConfig& config, bool force = false);

}  // namespace tailor::train
