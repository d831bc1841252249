// Tokenizers from the vocabulary stored in GGUF metadata (tokenizer.ggml.*): model "gpt2" (byte-level
// BPE with merges, split regex chosen by tokenizer.ggml.pre) and "llama" (SentencePiece-style BPE
// with byte fallback, merge order from the piece scores).
#pragma once

#include <filesystem>
#include <memory>

#include "data/tokenizer.h"

namespace tailor::data {

std::unique_ptr<Tokenizer> load_gguf_tokenizer(const std::filesystem::path& path);

}  // namespace tailor::data
