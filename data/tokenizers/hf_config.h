// Special tokens and the chat template from the files beside a tokenizer in an HF folder:
// tokenizer_config.json, chat_template.jinja, generation_config.json and config.json.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "data/tokenizer.h"

namespace tailor::data {

using TokenLookup = std::function<std::optional<TokenId>(std::string_view)>;

// Fills bos/eos/pad/unk, add_bos/add_eos and eos_ids from the folder's files (missing files are
// fine). Values already set in `specials` (e.g. from a post-processor) are kept unless the config names
// the token explicitly.
void read_hf_special_tokens(const std::filesystem::path& dir, const TokenLookup& lookup, SpecialTokens& specials);
// chat_template.jinja if present, else tokenizer_config.json's chat_template (a string, or the
// "default" entry of a named list); empty if none.
std::string read_hf_chat_template(const std::filesystem::path& dir);
// Adds every well-known end-of-turn token the vocabulary has to eos_ids (deduplicated).
void add_end_of_turn_tokens(const TokenLookup& lookup, SpecialTokens& specials);

nlohmann::json read_json_file(const std::filesystem::path& path);

}  // namespace tailor::data
