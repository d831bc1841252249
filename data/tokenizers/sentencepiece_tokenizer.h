// The Tokenizer for SentencePiece .model files, through libsentencepiece. Control pieces (<s>, </s>)
// are never produced from text by SentencePiece itself; encode_with_special matches them explicitly.
#pragma once

#include <filesystem>
#include <memory>

#include "data/tokenizer.h"

namespace tailor::data {

std::unique_ptr<Tokenizer> load_sentencepiece(const std::filesystem::path& model, const std::filesystem::path& config_dir);

}  // namespace tailor::data
