// The ChatEncoder for a recipe: the tokenizer's own chat template, or the recipe's data.chat_template
// file, through data/chat_mask.h.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "data/pipeline/chat_encoder.h"
#include "data/tokenizer.h"

namespace tailor::data {

// The template text in use: the file's when given, else the tokenizer's (empty when neither exists).
std::string chat_template_source(const Tokenizer& tokenizer, const std::optional<std::filesystem::path>& template_file);

// Null when there is no template at all (chat sources then fail naming data.chat_template).
std::unique_ptr<ChatEncoder> template_chat_encoder(const Tokenizer& tokenizer,
                                                   const std::optional<std::filesystem::path>& template_file);

}  // namespace tailor::data
