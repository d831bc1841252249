// The prepared dataset on disk (HDF5): every kept document's token ids and trained flags, the document
// table, the packing plan of each split, and metadata (the cache key and what it was computed from,
// the prepare statistics). Written to a temp file and renamed into place, so a half-written cache is
// never seen. Read back lazily: the document table and plans are loaded, tokens are read per document.
//
// Layout:
//   /tokens/ids int32[N]  /tokens/trained uint8[N]                 (chunked, appended while preparing)
//   /docs/offset int64[D] /docs/length int32[D] /docs/source int32[D]
//   /plan/{train,val}/row_offsets int64[R+1]  /plan/{train,val}/row_docs int64[...]
//   /meta/{key,identity,stats} uint8[] (UTF-8 text; JSON for identity and stats)
//   attributes on /: format_version, max_seq_len, packing, pad_id, seed
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "data/pipeline/packing.h"
#include "data/pipeline/sample.h"

namespace tailor::data {

enum class Split { Train, Val };

struct CacheSettings {
  int64_t max_seq_len = 0;
  bool packing = true;
  TokenId pad_id = 0;
  uint64_t seed = 0;
};

class CacheWriter {
 public:
  explicit CacheWriter(const std::filesystem::path& target);
  ~CacheWriter();  // without commit(), the temp file is removed
  CacheWriter(const CacheWriter&) = delete;
  CacheWriter& operator=(const CacheWriter&) = delete;

  void append(const Sample& sample, int32_t source);
  const std::vector<int32_t>& lengths() const { return lengths_; }
  const std::vector<int32_t>& sources() const { return sources_; }

  void commit(const CacheSettings& settings, const PackPlan& train, const PackPlan& val, const std::string& key,
              const std::string& identity_json, const std::string& stats_json);

 private:
  struct Impl;
  void flush_tokens();

  std::filesystem::path target_, temp_;
  std::unique_ptr<Impl> impl_;
  std::vector<TokenId> ids_buffer_;
  std::vector<uint8_t> trained_buffer_;
  int64_t tokens_written_ = 0;
  std::vector<int64_t> offsets_;
  std::vector<int32_t> lengths_, sources_;
};

class PreparedDataset {
 public:
  // Throws InputError when the file is not a complete tailor cache.
  static std::shared_ptr<PreparedDataset> open(const std::filesystem::path& path);
  ~PreparedDataset();

  const std::filesystem::path& path() const { return path_; }
  const std::string& key() const { return key_; }
  const std::string& identity_json() const { return identity_; }
  const std::string& stats_json() const { return stats_; }
  const CacheSettings& settings() const { return settings_; }

  int64_t documents() const { return static_cast<int64_t>(lengths_.size()); }
  int32_t length(int64_t doc) const { return lengths_.at(doc); }
  int32_t source(int64_t doc) const { return sources_.at(doc); }
  Sample document(int64_t doc) const;  // reads the document's tokens from the file

  const std::vector<std::vector<int64_t>>& rows(Split split) const { return split == Split::Train ? train_ : val_; }

 private:
  PreparedDataset() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::filesystem::path path_;
  std::string key_, identity_, stats_;
  CacheSettings settings_;
  std::vector<int64_t> offsets_;
  std::vector<int32_t> lengths_, sources_;
  std::vector<std::vector<int64_t>> train_, val_;
};

}  // namespace tailor::data
