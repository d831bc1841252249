// Packing documents into rows of max_seq_len, and building the batch the trainer turns into tensors.
//
// Strategy: best-fit decreasing over shuffled windows. Documents are taken in the (seeded, shuffled)
// order a window at a time; each window is sorted longest first and every document goes into the open
// row with the least room that still fits it (rows stay open across windows). Greedy concatenation in
// arrival order leaves far more padding; see pack_next_fit, kept as the baseline the tests compare to.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "data/tokenizer.h"

namespace tailor::data {

// rows[r] lists document indices (into the lengths given) in the order they sit in row r.
struct PackPlan {
  std::vector<std::vector<int64_t>> rows;
  int64_t capacity = 0;     // tokens a row holds (max_seq_len)
  int64_t real_tokens = 0;  // sum of document lengths

  double efficiency() const {  // real tokens / row capacity
    return rows.empty() ? 0.0 : double(real_tokens) / double(rows.size() * capacity);
  }
};

// order: the documents to pack (indices into lengths), already shuffled. Every length must be ≤ capacity.
PackPlan pack_best_fit(std::span<const int32_t> lengths, std::span<const int64_t> order, int64_t capacity,
                       uint64_t seed, size_t window = 8192);
PackPlan pack_next_fit(std::span<const int32_t> lengths, std::span<const int64_t> order, int64_t capacity);
// Unpacked: one document per row (padding fills the rest).
PackPlan pack_one_per_row(std::span<const int32_t> lengths, std::span<const int64_t> order, int64_t capacity);

// Rows × seq_len, ready to become tensors. Labels follow the Hugging Face convention (the model shifts
// them): -100 where the token is untrained, padding, or the first token of a document, so that no
// position learns to predict across a document boundary.
struct PackedBatch {
  int64_t rows = 0, seq_len = 0;                 // B, T
  std::vector<TokenId> input_ids;                // [B*T], padding = pad id
  std::vector<int32_t> labels;                   // [B*T]
  std::vector<int32_t> position_ids;             // [B*T], restarting at 0 for every document; 0 on padding
  std::vector<std::vector<int32_t>> cu_seqlens;  // per row: 0, end of doc 1, ..., end of the last doc
  int64_t real_tokens = 0, trained_tokens = 0;   // trained: labels != -100

  static constexpr int32_t kIgnore = -100;
};

// One document's tokens for a batch.
struct DocumentView {
  std::span<const TokenId> ids;
  std::span<const uint8_t> trained;
};

// Appends row `r` holding the given documents; seq_len must be fixed before the first row.
void append_row(PackedBatch& batch, std::span<const DocumentView> documents, TokenId pad_id);

}  // namespace tailor::data
