#include "data/pipeline/batch_iterator.h"

#include <algorithm>
#include <numeric>
#include <random>

#include "core/error.h"

namespace tailor::data {

BatchIterator::BatchIterator(std::shared_ptr<const PreparedDataset> dataset, Split split, BatchOptions options,
                             DataCursor start)
    : dataset_(std::move(dataset)), split_(split), options_(options), cursor_(start) {
  if (options_.rows_per_batch < 1) throw InputError("batch size must be at least 1");
  if (options_.world < 1 || options_.rank < 0 || options_.rank >= options_.world)
    throw InputError("rank " + std::to_string(options_.rank) + " is outside world size " + std::to_string(options_.world));
  if (cursor_.epoch < 0 || cursor_.step < 0 || cursor_.step > steps_per_epoch())
    throw InputError("data cursor (epoch " + std::to_string(cursor_.epoch) + ", step " + std::to_string(cursor_.step) +
                     ") does not fit this dataset (" + std::to_string(steps_per_epoch()) + " steps per epoch)");
}

int64_t BatchIterator::steps_per_epoch() const {
  int64_t rows = static_cast<int64_t>(dataset_->rows(split_).size());
  int64_t global = options_.rows_per_batch * options_.world;
  return (rows + global - 1) / global;
}

const std::vector<int64_t>& BatchIterator::epoch_order(int64_t epoch) const {
  if (order_epoch_ != epoch) {
    order_.resize(dataset_->rows(split_).size());
    std::iota(order_.begin(), order_.end(), 0);
    if (epoch > 0 && split_ == Split::Train) {
      std::mt19937_64 rng(dataset_->settings().seed * 0x9e3779b97f4a7c15ull + static_cast<uint64_t>(epoch));
      std::shuffle(order_.begin(), order_.end(), rng);
    }
    order_epoch_ = epoch;
  }
  return order_;
}

std::vector<int64_t> BatchIterator::rows_at(DataCursor at) const {
  const auto& order = epoch_order(at.epoch);
  int64_t n = static_cast<int64_t>(order.size());
  int64_t global = options_.rows_per_batch * options_.world;
  int64_t begin = at.step * global + options_.rank * options_.rows_per_batch;
  std::vector<int64_t> rows;
  for (int64_t k = 0; k < options_.rows_per_batch; ++k) {
    int64_t i = begin + k;
    if (i >= n) {
      if (options_.world == 1 || n == 0) break;
      i %= n;  // complete the last global batch so ranks stay in step
    }
    rows.push_back(order[i]);
  }
  return rows;
}

std::optional<PackedBatch> BatchIterator::next() {
  int64_t steps = steps_per_epoch();
  if (steps == 0) return std::nullopt;
  if (cursor_.step >= steps) {
    if (split_ == Split::Val) return std::nullopt;
    cursor_ = {cursor_.epoch + 1, 0};
  }
  std::vector<std::vector<int64_t>> rows;
  for (int64_t r : rows_at(cursor_)) rows.push_back(dataset_->rows(split_)[r]);
  ++cursor_.step;
  return build_batch(*dataset_, rows);
}

PackedBatch build_batch(const PreparedDataset& dataset, const std::vector<std::vector<int64_t>>& rows) {
  PackedBatch batch;
  if (dataset.settings().packing) {
    batch.seq_len = dataset.settings().max_seq_len;
  } else {
    for (const auto& row : rows) {
      int64_t n = 0;
      for (int64_t d : row) n += dataset.length(d);
      batch.seq_len = std::max(batch.seq_len, n);
    }
  }
  std::vector<Sample> samples;
  std::vector<DocumentView> views;
  for (const auto& row : rows) {
    samples.clear();
    views.clear();
    for (int64_t d : row) samples.push_back(dataset.document(d));
    for (const Sample& s : samples) views.push_back({s.ids, s.trained});
    append_row(batch, views, dataset.settings().pad_id);
  }
  return batch;
}

}  // namespace tailor::data
