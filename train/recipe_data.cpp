#include "train/recipe_data.h"

#include "core/error.h"
#include "data/template_chat_encoder.h"

namespace tailor::train {

RecipeData prepare_recipe_data(const data::DataConfig& config, bool force) {
  if (!config.tokenizer) throw InputError("data: no tokenizer: set 'model' or 'data.tokenizer'");
  RecipeData d;
  d.tokenizer = data::Tokenizer::load(*config.tokenizer);
  d.chat = data::template_chat_encoder(*d.tokenizer, config.chat_template);
  data::TokenizerIdentity identity{data::tokenizer_fingerprint(*config.tokenizer),
                                   data::chat_template_source(*d.tokenizer, config.chat_template)};
  d.prepared = data::prepare_dataset(config, *d.tokenizer, d.chat.get(), identity, force);
  return d;
}

}  // namespace tailor::train
