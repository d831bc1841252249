// The HDF5 cache (reuse, invalidation by source byte / tokenizer / data section, never a half-written
// file), weighted mixing, validation sources, and the recipe's data section.
#include <set>

#include "tests/data/pipeline/fakes.h"

namespace tailor::data::testing {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

const char* kRecipe = "sources: [{path: t.jsonl}]\nmax_seq_len: 32\n";

TEST(Cache, ReusedWhenNothingChanged) {
  auto dir = temp_dir("cache-reuse");
  write(dir / "t.jsonl", "{\"text\": \"hello\"}\n{\"text\": \"world\"}\n");
  auto first = prepare_yaml(dir, kRecipe);
  EXPECT_FALSE(first.stats.cache_hit);
  auto second = prepare_yaml(dir, kRecipe);
  EXPECT_TRUE(second.stats.cache_hit);
  EXPECT_EQ(second.stats.cache_file, first.stats.cache_file);
  EXPECT_EQ(second.stats.sources[0].samples, 2u);  // statistics come back from the cache
  EXPECT_EQ(documents_text(*second.dataset), documents_text(*first.dataset));
}

TEST(Cache, RebuiltWhenOneSourceByteTheTokenizerOrTheDataSectionChanges) {
  auto dir = temp_dir("cache-invalidate");
  write(dir / "t.jsonl", "{\"text\": \"hello\"}\n");
  auto base = prepare_yaml(dir, kRecipe);
  write(dir / "t.jsonl", "{\"text\": \"hellp\"}\n");
  auto source_changed = prepare_yaml(dir, kRecipe);
  EXPECT_FALSE(source_changed.stats.cache_hit);
  EXPECT_NE(source_changed.dataset->key(), base.dataset->key());
  EXPECT_EQ(documents_text(*source_changed.dataset), (std::vector<std::string>{"<s>hellp</s>"}));

  auto tokenizer_changed = prepare_yaml(dir, kRecipe, "fake-tokenizer-2");
  EXPECT_FALSE(tokenizer_changed.stats.cache_hit);
  auto section_changed = prepare_yaml(dir, std::string(kRecipe) + "seed: 7\n");
  EXPECT_FALSE(section_changed.stats.cache_hit);
  EXPECT_TRUE(prepare_yaml(dir, kRecipe).stats.cache_hit);
}

TEST(Cache, TokenizerFingerprintFollowsTheTokenizerFilesBytes) {
  auto dir = temp_dir("fingerprint");
  fs::create_directories(dir / "tok");
  write(dir / "tok" / "tokenizer.json", "{\"model\": 1}");
  write(dir / "tok" / "model.safetensors", "weights are not part of the tokenizer");
  std::string before = tokenizer_fingerprint(dir / "tok");
  write(dir / "tok" / "model.safetensors", "other weights");
  EXPECT_EQ(tokenizer_fingerprint(dir / "tok"), before);
  write(dir / "tok" / "tokenizer.json", "{\"model\": 2}");
  EXPECT_NE(tokenizer_fingerprint(dir / "tok"), before);
}

TEST(Cache, ACorruptOrHalfWrittenCacheIsNeverUsed) {
  auto dir = temp_dir("cache-corrupt");
  write(dir / "t.jsonl", "{\"text\": \"hello\"}\n");
  auto first = prepare_yaml(dir, kRecipe);
  std::string path = first.stats.cache_file;
  first.dataset.reset();
  // Cut the file in half: a later run must rebuild, not read it.
  auto size = fs::file_size(path);
  fs::resize_file(path, size / 2);
  auto again = prepare_yaml(dir, kRecipe);
  EXPECT_FALSE(again.stats.cache_hit);
  EXPECT_EQ(documents_text(*again.dataset), (std::vector<std::string>{"<s>hello</s>"}));
  EXPECT_THAT(error_of([&] { write(dir / "junk.h5", "not hdf5"); PreparedDataset::open(dir / "junk.h5"); }),
              HasSubstr("not a complete tailor dataset cache"));
  for (const auto& entry : fs::directory_iterator(dir / ".cache" / "data"))
    EXPECT_EQ(entry.path().string().find(".tmp-"), std::string::npos) << "temp file left: " << entry.path();
}

TEST(Mixing, WeightsSetEachSourcesShareReproduciblyForASeed) {
  auto dir = temp_dir("mixing");
  std::string vi, en;
  for (int i = 0; i < 100; ++i) vi += "{\"text\": \"vi " + std::to_string(i) + "\"}\n", en += "{\"text\": \"en " + std::to_string(i) + "\"}\n";
  write(dir / "vi.jsonl", vi);
  write(dir / "en.jsonl", en);
  std::string recipe = "sources: [{path: vi.jsonl, weight: 0.8}, {path: en.jsonl, weight: 0.2}]\nmax_seq_len: 16\npacking: false\n";
  auto mixed = prepare_yaml(dir, recipe);
  EXPECT_EQ(mixed.stats.sources[0].mixed_docs, 160u);  // 0.8 × 200: Vietnamese documents repeat
  EXPECT_EQ(mixed.stats.sources[1].mixed_docs, 40u);
  size_t vi_rows = 0;
  for (const auto& row : mixed.dataset->rows(Split::Train)) vi_rows += mixed.dataset->source(row[0]) == 0;
  EXPECT_EQ(vi_rows, 160u);
  // Same seed, same order (fresh cache folders so both are built); another seed, another order.
  auto order = [&](const std::string& extra) {
    auto r = prepare_yaml(dir, recipe + extra);
    return r.dataset->rows(Split::Train);
  };
  EXPECT_EQ(order("cache_dir: c1\n"), order("cache_dir: c2\n"));
  EXPECT_NE(order("cache_dir: c1\n"), order("seed: 9\n"));
}

TEST(Mixing, WithoutWeightsEveryDocumentIsUsedOnce) {
  auto dir = temp_dir("no-weights");
  write(dir / "a.jsonl", "{\"text\": \"a\"}\n");
  write(dir / "b.jsonl", "{\"text\": \"b1\"}\n{\"text\": \"b2\"}\n{\"text\": \"b3\"}\n");
  auto result = prepare_yaml(dir, "sources: [{path: a.jsonl}, {path: b.jsonl}]\nmax_seq_len: 16\npacking: false\n");
  EXPECT_EQ(result.stats.sources[0].mixed_docs, 1u);
  EXPECT_EQ(result.stats.sources[1].mixed_docs, 3u);
  std::multiset<int64_t> used;
  for (const auto& row : result.dataset->rows(Split::Train)) used.insert(row.begin(), row.end());
  EXPECT_EQ(used, (std::multiset<int64_t>{0, 1, 2, 3}));
}

TEST(Splits, ASeparateValidationSource) {
  auto dir = temp_dir("val-source");
  write(dir / "train.jsonl", "{\"text\": \"t1\"}\n{\"text\": \"t2\"}\n");
  write(dir / "val.jsonl", "{\"text\": \"v1\"}\n");
  auto result = prepare_yaml(dir, "sources: [{path: train.jsonl}, {path: val.jsonl, split: val}]\nmax_seq_len: 16\n");
  EXPECT_EQ(result.stats.sources[0].train_docs, 2u);
  EXPECT_EQ(result.stats.sources[1].val_docs, 1u);
  ASSERT_EQ(result.dataset->rows(Split::Val).size(), 1u);
  EXPECT_EQ(decode_bytes(result.dataset->document(result.dataset->rows(Split::Val)[0][0]).ids), "<s>v1</s>");
}

TEST(Recipe, UnknownKeysSuggestAndAllProblemsAreReportedAtOnce) {
  auto dir = temp_dir("recipe");
  write(dir / "t.jsonl", "{\"text\": \"x\"}\n");
  std::string error = error_of([&] {
    parse_data_config(YAML::Load("sources: [{path: t.jsonl, fromat: text, weight: -1}]\nmax_seq_lenn: 5\n"
                                 "mask: everything\nval_ratio: 1.5\npacking: maybe\n"),
                      dir, "recipe.yaml");
  });
  EXPECT_THAT(error, HasSubstr("recipe.yaml: 6 problems"));
  EXPECT_THAT(error, HasSubstr("data.sources[0].fromat (line 1): unknown key (did you mean 'format'?)"));
  EXPECT_THAT(error, HasSubstr("data.max_seq_lenn (line 2): unknown key (did you mean 'max_seq_len'?)"));
  EXPECT_THAT(error, HasSubstr("data.sources[0].weight (line 1): expected a number > 0"));
  EXPECT_THAT(error, HasSubstr("data.mask (line 3): expected one of assistant | all | last_turn"));
  EXPECT_THAT(error, HasSubstr("data.val_ratio (line 4): expected a number in [0, 1)"));
  EXPECT_THAT(error, HasSubstr("data.packing (line 5): expected true or false"));
  EXPECT_THAT(error_of([&] { parse_data_config(YAML::Load("sources: [{path: missing.jsonl}]"), dir, "r.yaml"); }),
              HasSubstr("no such file"));
  EXPECT_THAT(error_of([&] { parse_data_config(YAML::Load("sources: [{path: t.jsonl, format: alpaca}]\nlength_policy: split"), dir, "r.yaml"); }),
              HasSubstr("'split' applies to text only"));
}

TEST(Recipe, LoadReadsTheDataSectionAndTheModelAsTokenizer) {
  auto dir = temp_dir("recipe-file");
  write(dir / "t.jsonl", "{\"text\": \"x\"}\n");
  write(dir / "r.yaml", "model: models/tiny\ndata:\n  sources:\n    - path: t.jsonl\n      weight: 2\n  max_seq_len: 128\n  mask: last_turn\n");
  DataConfig config = load_data_config(dir / "r.yaml");
  ASSERT_EQ(config.sources.size(), 1u);
  EXPECT_EQ(config.sources[0].path, dir / "t.jsonl");
  EXPECT_EQ(config.sources[0].weight, 2.0);
  EXPECT_EQ(config.max_seq_len, 128u);
  EXPECT_EQ(config.mask, MaskMode::LastTurn);
  EXPECT_EQ(config.tokenizer, dir / "models/tiny");
  EXPECT_EQ(config.cache_dir, dir / ".cache/data");
}

}  // namespace
}  // namespace tailor::data::testing
