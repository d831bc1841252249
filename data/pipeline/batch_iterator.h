// Batches for the trainer, from a prepared dataset: each rank of a data-parallel group takes its own
// slice of every global batch, and the position is a small cursor the trainer checkpoints and resumes.
//
//   BatchIterator it(dataset, Split::Train, {.rows_per_batch = 8, .rank = r, .world = w}, saved_cursor);
//   while (auto batch = it.next()) { ...; checkpoint.data_cursor = it.cursor(); }
//
// Global batch s of an epoch holds rows [s·B·W, (s+1)·B·W) of the epoch's row order; rank r takes the
// r-th B of them. With W > 1 the last global batch is completed by wrapping to the epoch's first rows,
// so every rank takes the same number of steps. Epoch 0 uses the prepared order (already shuffled);
// epoch e > 0 a permutation seeded by (seed, e). Train cycles through epochs; val ends after one pass.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "data/pipeline/dataset_cache.h"
#include "data/pipeline/packing.h"

namespace tailor::data {

struct DataCursor {
  int64_t epoch = 0;
  int64_t step = 0;  // the next global batch within the epoch
  bool operator==(const DataCursor&) const = default;
};

struct BatchOptions {
  int64_t rows_per_batch = 1;  // B, per rank
  int rank = 0;
  int world = 1;
};

class BatchIterator {
 public:
  BatchIterator(std::shared_ptr<const PreparedDataset> dataset, Split split, BatchOptions options, DataCursor start = {});

  std::optional<PackedBatch> next();
  DataCursor cursor() const { return cursor_; }
  int64_t steps_per_epoch() const;

  // The rows (indices into the split's plan) this rank gets at a cursor; exposed for tests and inspect.
  std::vector<int64_t> rows_at(DataCursor at) const;

 private:
  const std::vector<int64_t>& epoch_order(int64_t epoch) const;

  std::shared_ptr<const PreparedDataset> dataset_;
  Split split_;
  BatchOptions options_;
  DataCursor cursor_;
  mutable int64_t order_epoch_ = -1;
  mutable std::vector<int64_t> order_;
};

// A batch built from the given documents (one row per entry of `rows`), for callers that want an
// arbitrary selection; seq_len: max_seq_len when packed, the longest row otherwise.
PackedBatch build_batch(const PreparedDataset& dataset, const std::vector<std::vector<int64_t>>& rows);

}  // namespace tailor::data
