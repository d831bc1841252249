// Prepare a dataset: read every source, tokenize with the template and mask, apply the length policy,
// drop duplicates and untrained samples, split, mix, pack, and write the HDF5 cache; or reuse the cache
// when its key (source bytes, tokenizer files, template, the data section, code version) matches.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "data/pipeline/bad_input.h"
#include "data/pipeline/chat_encoder.h"
#include "data/pipeline/data_config.h"
#include "data/pipeline/dataset_cache.h"
#include "data/tokenizer.h"

namespace tailor::data {

struct SourceStats {
  std::string path, format;
  uint64_t bytes = 0, records = 0;
  uint64_t samples = 0, tokens = 0, trained_tokens = 0;  // kept documents (after split pieces)
  uint64_t truncated = 0, split_pieces = 0;
  std::array<uint64_t, static_cast<size_t>(DropReason::kCount)> dropped{};
  BadInputTally bad;
  uint64_t train_docs = 0, val_docs = 0, mixed_docs = 0;  // mixed: documents drawn per epoch after weighting
};

struct PrepareStats {
  std::vector<SourceStats> sources;
  int64_t train_rows = 0, val_rows = 0;
  double train_efficiency = 0, val_efficiency = 0;  // real tokens / row capacity
  double seconds = 0;
  bool cache_hit = false;
  std::string cache_file;

  SourceStats total() const;
  std::string to_json() const;
  static PrepareStats from_json(const std::string& text);
};

// What identifies the tokenizer and template in the cache key.
struct TokenizerIdentity {
  std::string tokenizer_hash;  // tokenizer_fingerprint() of the tokenizer's files
  std::string chat_template;   // the template text in use (empty when none)
};

// XXH3-128 of a file's bytes, or of a folder's tokenizer files (tokenizer.json, tokenizer_config.json,
// tokenizer.model, special_tokens_map.json, chat_template.jinja), as hex.
std::string tokenizer_fingerprint(const std::filesystem::path& path);
std::string file_hash(const std::filesystem::path& path);

// The cache file name for a configuration (computes the key; reads every source once to hash it).
std::string cache_key(const DataConfig& config, const TokenizerIdentity& identity);

struct PrepareResult {
  std::shared_ptr<PreparedDataset> dataset;
  PrepareStats stats;
};

// chat may be null when no source is a conversation. force: rebuild even when the cache matches.
PrepareResult prepare_dataset(const DataConfig& config, const Tokenizer& tokenizer, const ChatEncoder* chat,
                              const TokenizerIdentity& identity, bool force = false);

// The pad id batches use: the tokenizer's pad, else its eos, else 0.
TokenId pad_id_for(const Tokenizer& tokenizer);

}  // namespace tailor::data
