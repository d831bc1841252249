#include "data/pipeline/packing.h"

#include <algorithm>
#include <cassert>
#include <numeric>
#include <random>
#include <set>
#include <stdexcept>

namespace tailor::data {

PackPlan pack_best_fit(std::span<const int32_t> lengths, std::span<const int64_t> order, int64_t capacity,
                       uint64_t seed, size_t window) {
  PackPlan plan;
  plan.capacity = capacity;
  std::vector<int64_t> room;
  std::set<std::pair<int64_t, int64_t>> open;  // (room left, row) for rows not yet full
  std::vector<int64_t> batch;
  for (size_t start = 0; start < order.size(); start += window) {
    batch.assign(order.begin() + start, order.begin() + std::min(order.size(), start + window));
    std::stable_sort(batch.begin(), batch.end(), [&](int64_t a, int64_t b) { return lengths[a] > lengths[b]; });
    for (int64_t doc : batch) {
      int64_t len = lengths[doc];
      if (len > capacity || len <= 0) throw std::logic_error("pack_best_fit: document length out of range");
      plan.real_tokens += len;
      auto it = open.lower_bound({len, -1});
      int64_t row;
      if (it == open.end()) {
        row = static_cast<int64_t>(plan.rows.size());
        plan.rows.emplace_back();
        room.push_back(capacity);
      } else {
        row = it->second;
        open.erase(it);
      }
      plan.rows[row].push_back(doc);
      room[row] -= len;
      if (room[row] > 0) open.insert({room[row], row});
    }
  }
  // Rows were filled longest-first; shuffle them so batches do not run from full to sparse.
  std::mt19937_64 rng(seed ^ 0x9e3779b97f4a7c15ull);
  std::shuffle(plan.rows.begin(), plan.rows.end(), rng);
  return plan;
}

PackPlan pack_next_fit(std::span<const int32_t> lengths, std::span<const int64_t> order, int64_t capacity) {
  PackPlan plan;
  plan.capacity = capacity;
  int64_t room = 0;
  for (int64_t doc : order) {
    int64_t len = lengths[doc];
    if (plan.rows.empty() || len > room) {
      plan.rows.emplace_back();
      room = capacity;
    }
    plan.rows.back().push_back(doc);
    room -= len;
    plan.real_tokens += len;
  }
  return plan;
}

PackPlan pack_one_per_row(std::span<const int32_t> lengths, std::span<const int64_t> order, int64_t capacity) {
  PackPlan plan;
  plan.capacity = capacity;
  for (int64_t doc : order) {
    plan.rows.push_back({doc});
    plan.real_tokens += lengths[doc];
  }
  return plan;
}

void append_row(PackedBatch& batch, std::span<const DocumentView> documents, TokenId pad_id) {
  const int64_t T = batch.seq_len;
  size_t base = batch.input_ids.size();
  batch.input_ids.resize(base + T, pad_id);
  batch.labels.resize(base + T, PackedBatch::kIgnore);
  batch.position_ids.resize(base + T, 0);
  std::vector<int32_t> cu{0};
  int64_t at = 0;
  for (const DocumentView& doc : documents) {
    int64_t n = static_cast<int64_t>(doc.ids.size());
    if (at + n > T) throw std::logic_error("append_row: documents exceed seq_len");
    for (int64_t i = 0; i < n; ++i) {
      batch.input_ids[base + at + i] = doc.ids[i];
      batch.position_ids[base + at + i] = static_cast<int32_t>(i);
      if (i > 0 && doc.trained[i]) {
        batch.labels[base + at + i] = doc.ids[i];
        ++batch.trained_tokens;
      }
    }
    at += n;
    batch.real_tokens += n;
    cu.push_back(static_cast<int32_t>(at));
  }
  batch.cu_seqlens.push_back(std::move(cu));
  ++batch.rows;
}

}  // namespace tailor::data
