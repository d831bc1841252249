// Masks, length policies, hygiene (duplicates, untrained samples), packing, batches with rank/world and
// a resumable cursor.
#include <numeric>
#include <set>

#include "data/pipeline/batch_iterator.h"
#include "data/pipeline/packing.h"
#include "tests/data/pipeline/fakes.h"

namespace tailor::data::testing {
namespace {

using ::testing::HasSubstr;

const char* kTwoTurns =
    R"({"messages": [{"role": "user", "content": "q1"}, {"role": "assistant", "content": "a1"}, {"role": "user", "content": "q2"}, {"role": "assistant", "content": "a2"}]})"
    "\n";

TEST(Mask, AssistantAllAndLastTurn) {
  auto dir = temp_dir("mask");
  write(dir / "c.jsonl", kTwoTurns);
  auto trained = [&](const char* mode) {
    return trained_text(prepare_yaml(dir, std::string("sources: [{path: c.jsonl}]\nmask: ") + mode).dataset->document(0));
  };
  EXPECT_EQ(trained("assistant"), "a1<|im_end|>a2<|im_end|>");
  EXPECT_EQ(trained("last_turn"), "a2<|im_end|>");
  auto all = prepare_yaml(dir, "sources: [{path: c.jsonl}]\nmask: all").dataset->document(0);
  EXPECT_EQ(all.trained_count(), all.ids.size());
}

TEST(LengthPolicy, TruncateDropAndSplitAreCounted) {
  auto dir = temp_dir("length");
  write(dir / "t.jsonl", "{\"text\": \"abcdefghijklmnopqrst\"}\n{\"text\": \"short\"}\n");  // 22 and 7 tokens
  auto truncated = prepare_yaml(dir, "sources: [{path: t.jsonl}]\nmax_seq_len: 8\nlength_policy: truncate");
  EXPECT_EQ(truncated.stats.sources[0].truncated, 1u);
  EXPECT_EQ(documents_text(*truncated.dataset), (std::vector<std::string>{"<s>abcdefg", "<s>short</s>"}));

  auto dropped = prepare_yaml(dir, "sources: [{path: t.jsonl}]\nmax_seq_len: 8\nlength_policy: drop");
  EXPECT_EQ(dropped.stats.sources[0].dropped[static_cast<size_t>(DropReason::TooLong)], 1u);
  EXPECT_EQ(documents_text(*dropped.dataset), (std::vector<std::string>{"<s>short</s>"}));

  auto split = prepare_yaml(dir, "sources: [{path: t.jsonl}]\nmax_seq_len: 8\nlength_policy: split");
  EXPECT_EQ(documents_text(*split.dataset),
            (std::vector<std::string>{"<s>abcdefg", "hijklmno", "pqrst</s>", "<s>short</s>"}));
  EXPECT_EQ(split.stats.sources[0].split_pieces, 3u);
}

TEST(LengthPolicy, SplitDropsConversationsAndSaysWhy) {
  auto dir = temp_dir("split-chat");
  write(dir / "c.jsonl", kTwoTurns);
  write(dir / "t.jsonl", "{\"text\": \"x\"}\n");
  auto result = prepare_yaml(dir, "sources: [{path: c.jsonl}, {path: t.jsonl}]\nmax_seq_len: 10\nlength_policy: split");
  EXPECT_EQ(result.stats.sources[0].dropped[static_cast<size_t>(DropReason::SplitNotText)], 1u);
}

TEST(Hygiene, DuplicatesAndUntrainedSamplesAreDroppedAndCounted) {
  auto dir = temp_dir("hygiene");
  // The long conversation truncated at 12 tokens keeps only the user turn: nothing trained.
  write(dir / "d.jsonl", "{\"text\": \"same\"}\n{\"text\": \"same\"}\n{\"text\": \"other\"}\n");
  write(dir / "c.jsonl", R"({"messages": [{"role": "user", "content": "a long question"}, {"role": "assistant", "content": "a"}]})" "\n");
  auto result = prepare_yaml(dir, "sources: [{path: d.jsonl}, {path: c.jsonl}]\nmax_seq_len: 12");
  EXPECT_EQ(result.stats.sources[0].dropped[static_cast<size_t>(DropReason::Duplicate)], 1u);
  EXPECT_EQ(result.stats.sources[1].dropped[static_cast<size_t>(DropReason::NoTrainedTokens)], 1u);
  EXPECT_EQ(result.dataset->documents(), 2);
  auto kept = prepare_yaml(dir, "sources: [{path: d.jsonl}, {path: c.jsonl}]\nmax_seq_len: 12\ndedupe: false");
  EXPECT_EQ(kept.dataset->documents(), 3);
}

TEST(Hygiene, MultiThreadedTokenizationKeepsFileOrder) {
  auto dir = temp_dir("order");
  std::string lines;
  for (int i = 0; i < 10000; ++i) lines += "{\"text\": \"doc " + std::to_string(i) + "\"}\n";
  write(dir / "many.jsonl", lines);
  auto result = prepare_yaml(dir, "sources: [{path: many.jsonl}]\nthreads: 2");
  ASSERT_EQ(result.dataset->documents(), 10000);
  for (int i : {0, 4095, 4096, 9999}) EXPECT_EQ(decode_bytes(result.dataset->document(i).ids), "<s>doc " + std::to_string(i) + "</s>");
}

std::vector<int32_t> random_lengths(size_t n, int32_t max, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int32_t> dist(1, max);
  std::vector<int32_t> lengths(n);
  for (auto& l : lengths) l = dist(rng);
  return lengths;
}

TEST(Packing, BestFitBeatsGreedyConcatenationAndKeepsEveryDocumentOnce) {
  auto lengths = random_lengths(3000, 700, 7);
  std::vector<int64_t> order(lengths.size());
  std::iota(order.begin(), order.end(), 0);
  PackPlan best = pack_best_fit(lengths, order, 1024, 1, 512);
  PackPlan greedy = pack_next_fit(lengths, order, 1024);
  EXPECT_GT(best.efficiency(), greedy.efficiency() + 0.1);
  EXPECT_GT(best.efficiency(), 0.97);
  std::multiset<int64_t> seen;
  for (const auto& row : best.rows) {
    int64_t used = 0;
    for (int64_t d : row) used += lengths[d], seen.insert(d);
    EXPECT_LE(used, 1024);
  }
  EXPECT_EQ(seen.size(), lengths.size());
  EXPECT_EQ(std::set<int64_t>(seen.begin(), seen.end()).size(), lengths.size());
}

TEST(Packing, BatchRowsKeepDocumentBoundaries) {
  Sample a{{10, 11, 12}, {1, 1, 0}}, b{{20, 21}, {0, 1}};
  PackedBatch batch;
  batch.seq_len = 8;
  std::vector<DocumentView> row{{a.ids, a.trained}, {b.ids, b.trained}};
  append_row(batch, row, kPad);
  EXPECT_EQ(batch.input_ids, (std::vector<TokenId>{10, 11, 12, 20, 21, 0, 0, 0}));
  EXPECT_EQ(batch.position_ids, (std::vector<int32_t>{0, 1, 2, 0, 1, 0, 0, 0}));
  // The first token of each document is never a target: no prediction crosses the boundary.
  EXPECT_EQ(batch.labels, (std::vector<int32_t>{-100, 11, -100, -100, 21, -100, -100, -100}));
  EXPECT_EQ(batch.cu_seqlens, (std::vector<std::vector<int32_t>>{{0, 3, 5}}));
  EXPECT_EQ(batch.real_tokens, 5);
  EXPECT_EQ(batch.trained_tokens, 2);
}

// A packed batch holds, per document, exactly the labels and positions the same document has alone.
TEST(Packing, PackedRowsMatchTheSameDocumentsUnpacked) {
  auto dir = temp_dir("packed-vs-unpacked");
  std::string lines;
  for (int i = 0; i < 200; ++i) lines += "{\"prompt\": \"q" + std::to_string(i) + "\", \"completion\": \"" + std::string(1 + i % 37, 'a' + i % 26) + "\"}\n";
  write(dir / "c.jsonl", lines);
  auto packed = prepare_yaml(dir, "sources: [{path: c.jsonl}]\nmax_seq_len: 64\npacking: true");
  auto unpacked = prepare_yaml(dir, "sources: [{path: c.jsonl}]\nmax_seq_len: 64\npacking: false");
  EXPECT_GT(packed.stats.train_efficiency, 0.9);
  EXPECT_LT(packed.stats.train_rows, unpacked.stats.train_rows);
  auto per_document = [](const std::shared_ptr<PreparedDataset>& data) {
    std::map<std::vector<TokenId>, std::pair<std::vector<int32_t>, std::vector<int32_t>>> docs;
    BatchIterator it(data, Split::Train, {.rows_per_batch = 4});
    for (int64_t s = 0; s < it.steps_per_epoch(); ++s) {
      PackedBatch batch = *it.next();
      for (int64_t r = 0; r < batch.rows; ++r) {
        const auto& cu = batch.cu_seqlens[r];
        for (size_t k = 0; k + 1 < cu.size(); ++k) {
          size_t from = r * batch.seq_len + cu[k], to = r * batch.seq_len + cu[k + 1];
          std::vector<TokenId> ids(batch.input_ids.begin() + from, batch.input_ids.begin() + to);
          docs[ids] = {std::vector<int32_t>(batch.labels.begin() + from, batch.labels.begin() + to),
                       std::vector<int32_t>(batch.position_ids.begin() + from, batch.position_ids.begin() + to)};
        }
      }
    }
    return docs;
  };
  auto a = per_document(packed.dataset), b = per_document(unpacked.dataset);
  EXPECT_EQ(a.size(), 200u);
  EXPECT_EQ(a, b);
}

TEST(Batches, RanksPartitionEveryGlobalBatchAndTheCursorResumes) {
  auto dir = temp_dir("ranks");
  std::string lines;
  for (int i = 0; i < 101; ++i) lines += "{\"text\": \"" + std::string(5 + i % 13, 'a' + i % 26) + std::to_string(i) + "\"}\n";
  write(dir / "t.jsonl", lines);
  auto data = prepare_yaml(dir, "sources: [{path: t.jsonl}]\nmax_seq_len: 32\npacking: false").dataset;
  ASSERT_EQ(data->rows(Split::Train).size(), 101u);
  BatchIterator r0(data, Split::Train, {.rows_per_batch = 3, .rank = 0, .world = 2});
  BatchIterator r1(data, Split::Train, {.rows_per_batch = 3, .rank = 1, .world = 2});
  EXPECT_EQ(r0.steps_per_epoch(), 17);  // ceil(101 / 6)
  std::multiset<int64_t> epoch_rows;
  for (int64_t s = 0; s < r0.steps_per_epoch(); ++s) {
    auto a = r0.rows_at({0, s}), b = r1.rows_at({0, s});
    EXPECT_EQ(a.size(), 3u);
    EXPECT_EQ(b.size(), 3u);
    epoch_rows.insert(a.begin(), a.end());
    epoch_rows.insert(b.begin(), b.end());
  }
  EXPECT_EQ(std::set<int64_t>(epoch_rows.begin(), epoch_rows.end()).size(), 101u);  // every row, wrap fills 1

  // Resume: a fresh iterator at a saved cursor yields what the original yields next, across an epoch.
  BatchIterator original(data, Split::Train, {.rows_per_batch = 8});
  for (int i = 0; i < 11; ++i) original.next();
  DataCursor saved = original.cursor();
  EXPECT_EQ(saved, (DataCursor{0, 11}));
  BatchIterator resumed(data, Split::Train, {.rows_per_batch = 8}, saved);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(original.next()->input_ids, resumed.next()->input_ids) << i;
  EXPECT_EQ(original.cursor().epoch, 1);
  EXPECT_NE(original.rows_at({1, 0}), original.rows_at({0, 0}));  // a new epoch reshuffles
}

TEST(Batches, ValidationEndsAfterOnePass) {
  auto dir = temp_dir("val-pass");
  std::string lines;
  for (int i = 0; i < 400; ++i) lines += "{\"text\": \"v" + std::to_string(i) + "\"}\n";
  write(dir / "t.jsonl", lines);
  auto result = prepare_yaml(dir, "sources: [{path: t.jsonl}]\nval_ratio: 0.25\nmax_seq_len: 32");
  SourceStats s = result.stats.sources[0];
  EXPECT_EQ(s.train_docs + s.val_docs, 400u);
  EXPECT_NEAR(double(s.val_docs), 100.0, 30.0);
  BatchIterator val(result.dataset, Split::Val, {.rows_per_batch = 2});
  int64_t batches = 0;
  while (val.next()) ++batches;
  EXPECT_EQ(batches, val.steps_per_epoch());
  EXPECT_GT(batches, 0);
}

}  // namespace
}  // namespace tailor::data::testing
