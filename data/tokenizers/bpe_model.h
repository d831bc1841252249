// The BPE model of HF tokenizers: a vocabulary, ranked merges, and the merge loop. Two alphabets:
// byte-level (GPT-2 style: vocabulary strings spell bytes through the byte->unicode table, words are
// raw bytes) and character-level (SentencePiece-style vocabularies with optional <0xXX> byte fallback).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "data/tokenizer.h"

namespace tailor::data {

struct BpeOptions {
  bool byte_level = false;     // words are raw bytes, vocabulary spelled in the byte->unicode alphabet
  bool byte_fallback = false;  // unknown characters become <0xXX> tokens
  bool ignore_merges = false;  // a word that is itself in the vocabulary is emitted as is (Llama 3)
  bool fuse_unk = false;
  std::optional<std::string> unk_token;
};

// Open-addressing map from a merge pair (left id, right id) to (rank, merged id).
class MergeTable {
 public:
  void reserve(size_t n);
  void insert(TokenId left, TokenId right, uint32_t rank, TokenId merged);
  // (rank << 32 | merged id), or kNone.
  uint64_t find(TokenId left, TokenId right) const {
    if (slots_.empty()) return kNone;
    uint64_t key = pack(left, right);
    for (size_t i = hash(key) & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.key == key) return s.value;
      if (s.key == kEmpty) return kNone;
    }
  }
  static constexpr uint64_t kNone = ~uint64_t(0);

 private:
  static constexpr uint64_t kEmpty = ~uint64_t(0);
  static uint64_t pack(TokenId l, TokenId r) { return (uint64_t(uint32_t(l)) << 32) | uint32_t(r); }
  static size_t hash(uint64_t k) { return size_t((k * 0x9E3779B97F4A7C15ull) >> 17); }
  struct Slot {
    uint64_t key = kEmpty, value = 0;
  };
  std::vector<Slot> slots_;
  size_t mask_ = 0, size_ = 0;
};

class BpeModel {
 public:
  // vocab: (spelling, id) as in tokenizer.json; merges: (left, right) spellings in rank order. Merges
  // whose parts or result are not in the vocabulary are skipped, as llama.cpp does.
  BpeModel(std::vector<std::pair<std::string, TokenId>> vocab,
           const std::vector<std::pair<std::string, std::string>>& merges, BpeOptions options);

  // Appends the ids of one pre-tokenized word (raw UTF-8 bytes; byte-level words may be any bytes).
  void encode_word(std::string_view word, std::vector<TokenId>& out) const;

  std::optional<TokenId> find(std::string_view spelling) const;  // by vocabulary spelling
  const std::string* spelling(TokenId id) const;                 // nullptr if not in the vocabulary
  size_t id_bound() const { return spellings_.size(); }          // largest id + 1
  const BpeOptions& options() const { return options_; }
  // Byte-level: the bytes a vocabulary spelling stands for (the spelling itself when it has a character
  // outside the byte alphabet, as HF's ByteLevel decoder does).
  static std::string byte_level_decode(std::string_view spelling);
  static std::string byte_level_encode(std::string_view bytes);

 private:
  void encode_chunk(std::string_view word, std::vector<TokenId>& out) const;
  void merge_small(std::vector<TokenId>& ids) const;
  void merge_large(std::vector<TokenId>& ids) const;
  void initial_symbols(std::string_view word, std::vector<TokenId>& ids) const;
  std::optional<TokenId> find_word(std::string_view word) const;  // by the word's own bytes

  BpeOptions options_;
  std::vector<std::string> spellings_;  // id -> spelling ("" for holes)
  std::vector<bool> present_;
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, TokenId, Hash, std::equal_to<>> by_spelling_;
  std::unordered_map<std::string, TokenId, Hash, std::equal_to<>> by_bytes_;  // byte-level only
  TokenId byte_ids_[256];      // byte-level: id of each single byte; char-level: id of <0xXX>
  std::optional<TokenId> unk_id_;
  // Character-level vocabularies where "▁" only ever starts a token (or continues a run of "▁"): no
  // merge can cross the start of a "▁" run, so long words are merged piecewise (and cached).
  bool split_at_metaspace_ = false;
  MergeTable merges_;
  uint64_t instance_;  // distinguishes this model in the per-thread word cache
};

}  // namespace tailor::data
