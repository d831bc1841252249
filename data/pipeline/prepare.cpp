#include "data/pipeline/prepare.h"

#include <xxhash.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>
#include <cstring>
#include <mutex>
#include <thread>
#include <unordered_set>
#include <variant>

#include <nlohmann/json.hpp>

#include "core/build_info.h"
#include "core/error.h"
#include "data/pipeline/raw_reader.h"
#include "data/pipeline/record_parser.h"
#include "data/pipeline/transform.h"

namespace tailor::data {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// Bump when the prepared output of the same inputs changes.
constexpr const char* kPipelineVersion = "tailor-data-pipeline 1";
constexpr size_t kChunkItems = 4096;

std::string hex128(XXH128_hash_t h) {
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(h.high64),
                static_cast<unsigned long long>(h.low64));
  return buf;
}

void hash_file_into(XXH3_state_t* state, const fs::path& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw InputError(path.string() + ": cannot open");
  std::vector<char> buffer(size_t{1} << 20);
  size_t n;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), f)) > 0) XXH3_128bits_update(state, buffer.data(), n);
  std::fclose(f);
}

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint64_t sample_hash(const Sample& s) {
  XXH3_state_t* state = XXH3_createState();
  XXH3_64bits_reset(state);
  XXH3_64bits_update(state, s.ids.data(), s.ids.size() * sizeof(TokenId));
  XXH3_64bits_update(state, s.trained.data(), s.trained.size());
  uint64_t h = XXH3_64bits_digest(state);
  XXH3_freeState(state);
  return h;
}

// What a worker makes of one raw item.
struct ItemResult {
  std::optional<BadItem> bad;
  TransformResult transformed;
  std::vector<uint64_t> hashes;  // one per sample
};

// Runs fn(i) for i in [0, n) on `threads` threads, each taking a contiguous stretch, so results land in
// input order whatever the thread count.
template <typename Fn>
void parallel_for(size_t n, int threads, Fn fn) {
  size_t t = std::max<size_t>(1, std::min<size_t>(threads, n));
  if (t == 1) {
    for (size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  std::vector<std::thread> pool;
  std::exception_ptr error;
  std::mutex error_mutex;
  for (size_t k = 0; k < t; ++k)
    pool.emplace_back([&, k] {
      try {
        for (size_t i = n * k / t; i < n * (k + 1) / t; ++i) fn(i);
      } catch (...) {
        std::lock_guard lock(error_mutex);
        if (!error) error = std::current_exception();
      }
    });
  for (auto& th : pool) th.join();
  if (error) std::rethrow_exception(error);
}

std::string where(const fs::path& path, uint64_t line) { return path.filename().string() + ":" + std::to_string(line); }

// Reads, transforms and keeps one source's documents, appending them to the cache.
class SourceProcessor {
 public:
  SourceProcessor(const DataConfig& config, const Transformer& transformer, int threads,
                  std::unordered_set<uint64_t>& seen, CacheWriter& writer, std::vector<uint64_t>& doc_hashes)
      : config_(config), transformer_(transformer), threads_(threads), seen_(seen), writer_(writer),
        doc_hashes_(doc_hashes) {}

  SourceStats run(const SourceConfig& source, int32_t index) {
    SourceStats stats;
    stats.path = source.path.string();
    ReadLimits limits;
    Container container = container_for(source.path);
    RawReader reader(source.path, container, limits, source.separator);
    SourceFormat format = container == Container::PlainText ? SourceFormat::Text : source.format;
    RecordParser parser(format, source.columns);
    std::vector<RawItem> chunk;
    bool any = false;
    for (;;) {
      chunk.clear();
      RawItem item;
      while (chunk.size() < kChunkItems && reader.next(item)) chunk.push_back(std::move(item));
      if (chunk.empty()) break;
      any = true;
      if (parser.format() == SourceFormat::Auto) detect(parser, chunk);
      std::vector<ItemResult> results(chunk.size());
      bool is_text = container == Container::PlainText;
      parallel_for(chunk.size(), threads_, [&](size_t i) {
        results[i] = process(parser, chunk[i], source.path, is_text, limits.max_depth);
      });
      for (size_t i = 0; i < chunk.size(); ++i) consume(results[i], stats, index, where(source.path, chunk[i].line));
    }
    stats.bytes = reader.bytes_read();
    stats.format = format_name(parser.format());
    if (!any) bad(stats, BadItem{BadReason::EmptyFile, source.path.string() + ": empty file (no records)"});
    return stats;
  }

 private:
  void detect(RecordParser& parser, const std::vector<RawItem>& chunk) const {
    for (const RawItem& item : chunk) {
      if (item.problem) continue;
      json object = json::parse(item.body, nullptr, false);
      if (object.is_discarded() || !object.is_object()) continue;
      parser.set_format(parser.detect(object));
      return;
    }
  }

  ItemResult process(const RecordParser& parser, const RawItem& item, const fs::path& path, bool is_text,
                     int max_depth) const {
    ItemResult result;
    std::string at = where(path, item.line);
    if (item.problem) {
      std::string what = *item.problem == BadReason::MalformedJson ? item.body
                         : *item.problem == BadReason::TooDeep ? "JSON nested deeper than " + std::to_string(max_depth) + " levels"
                                                               : "longer than the limit of " + std::to_string(ReadLimits{}.max_item_bytes) + " bytes";
      result.bad = BadItem{*item.problem, at + ": " + what + " (format: " + format_name(parser.format()) + ")"};
      return result;
    }
    auto parsed = is_text ? parser.parse_text(item.body, at) : parser.parse_json(item.body, at, max_depth);
    if (auto* b = std::get_if<BadItem>(&parsed)) {
      result.bad = std::move(*b);
      return result;
    }
    result.transformed = transformer_.apply(std::get<Record>(parsed));
    for (const Sample& s : result.transformed.samples) result.hashes.push_back(sample_hash(s));
    return result;
  }

  void bad(SourceStats& stats, const BadItem& item) {
    if (!config_.skip_bad) throw InputError(item.message + " (set data.skip_bad: true to skip such records)");
    stats.bad.add(item);
  }

  void consume(ItemResult& result, SourceStats& stats, int32_t index, const std::string& at) {
    ++stats.records;
    if (result.bad) return bad(stats, *result.bad);
    TransformResult& t = result.transformed;
    if (t.dropped == DropReason::TemplateError && !config_.skip_bad)
      throw InputError(at + ": " + t.drop_detail + " (set data.skip_bad: true to skip such records)");
    if (t.dropped) {
      ++stats.dropped[static_cast<size_t>(*t.dropped)];
      return;
    }
    if (t.truncated) ++stats.truncated;
    if (t.samples.size() > 1) stats.split_pieces += t.samples.size();
    for (size_t k = 0; k < t.samples.size(); ++k) {
      const Sample& s = t.samples[k];
      if (config_.dedupe && !seen_.insert(result.hashes[k]).second) {
        ++stats.dropped[static_cast<size_t>(DropReason::Duplicate)];
        continue;
      }
      ++stats.samples;
      stats.tokens += s.ids.size();
      stats.trained_tokens += s.trained_count() - s.trained[0];
      writer_.append(s, index);
      doc_hashes_.push_back(result.hashes[k]);
    }
  }

  const DataConfig& config_;
  const Transformer& transformer_;
  int threads_;
  std::unordered_set<uint64_t>& seen_;
  CacheWriter& writer_;
  std::vector<uint64_t>& doc_hashes_;
};

// Weighted mixing: source i gets round(w_i / Σw × N) of the N training documents per epoch, drawn from a
// seeded shuffle of its documents (repeating the shuffle when a weight asks for more than it has).
// Without any weight in the recipe, every document is used once.
std::vector<int64_t> mix_training_documents(const DataConfig& config, const std::vector<std::vector<int64_t>>& by_source,
                                            std::vector<SourceStats>& stats) {
  double total_weight = 0;
  size_t total_docs = 0;
  for (size_t i = 0; i < by_source.size(); ++i)
    if (!by_source[i].empty()) {
      total_weight += config.sources[i].weight;
      total_docs += by_source[i].size();
    }
  bool weighted = std::any_of(config.sources.begin(), config.sources.end(), [](const SourceConfig& s) { return s.weight_given; });
  std::vector<int64_t> mixed;
  for (size_t i = 0; i < by_source.size(); ++i) {
    if (by_source[i].empty()) continue;
    size_t want = by_source[i].size();
    if (weighted)
      want = std::max<size_t>(1, static_cast<size_t>(std::llround(config.sources[i].weight / total_weight * double(total_docs))));
    std::mt19937_64 rng(splitmix64(config.seed ^ (0x1000 + i)));
    std::vector<int64_t> pool = by_source[i];
    for (size_t taken = 0; taken < want;) {
      std::shuffle(pool.begin(), pool.end(), rng);
      for (size_t k = 0; k < pool.size() && taken < want; ++k, ++taken) mixed.push_back(pool[k]);
    }
    stats[i].mixed_docs = want;
  }
  std::mt19937_64 rng(splitmix64(config.seed));
  std::shuffle(mixed.begin(), mixed.end(), rng);
  return mixed;
}

json tally_json(const SourceStats& s) {
  json dropped = json::object();
  for (size_t r = 0; r < s.dropped.size(); ++r)
    if (s.dropped[r]) dropped[drop_reason_name(static_cast<DropReason>(r))] = s.dropped[r];
  json bad = json::object();
  for (size_t r = 0; r < s.bad.counts.size(); ++r)
    if (s.bad.counts[r]) bad[reason_name(static_cast<BadReason>(r))] = s.bad.counts[r];
  return {{"path", s.path}, {"format", s.format}, {"bytes", s.bytes}, {"records", s.records}, {"samples", s.samples},
          {"tokens", s.tokens}, {"trained_tokens", s.trained_tokens}, {"truncated", s.truncated},
          {"split_pieces", s.split_pieces}, {"dropped", dropped}, {"bad", bad}, {"bad_examples", s.bad.first_examples},
          {"train_docs", s.train_docs}, {"val_docs", s.val_docs}, {"mixed_docs", s.mixed_docs}};
}

SourceStats tally_from_json(const json& j) {
  SourceStats s;
  s.path = j.at("path");
  s.format = j.at("format");
  for (const char* key : {"bytes", "records", "samples", "tokens", "trained_tokens", "truncated", "split_pieces",
                          "train_docs", "val_docs", "mixed_docs"}) {
    uint64_t v = j.at(key);
    std::string k = key;
    if (k == "bytes") s.bytes = v;
    else if (k == "records") s.records = v;
    else if (k == "samples") s.samples = v;
    else if (k == "tokens") s.tokens = v;
    else if (k == "trained_tokens") s.trained_tokens = v;
    else if (k == "truncated") s.truncated = v;
    else if (k == "split_pieces") s.split_pieces = v;
    else if (k == "train_docs") s.train_docs = v;
    else if (k == "val_docs") s.val_docs = v;
    else s.mixed_docs = v;
  }
  for (size_t r = 0; r < s.dropped.size(); ++r)
    s.dropped[r] = j.at("dropped").value(drop_reason_name(static_cast<DropReason>(r)), uint64_t{0});
  for (size_t r = 0; r < s.bad.counts.size(); ++r)
    s.bad.counts[r] = j.at("bad").value(reason_name(static_cast<BadReason>(r)), uint64_t{0});
  s.bad.first_examples = j.at("bad_examples").get<std::vector<std::string>>();
  return s;
}

}  // namespace

SourceStats PrepareStats::total() const {
  SourceStats t;
  t.path = "total";
  for (const auto& s : sources) {
    t.bytes += s.bytes;
    t.records += s.records;
    t.samples += s.samples;
    t.tokens += s.tokens;
    t.trained_tokens += s.trained_tokens;
    t.truncated += s.truncated;
    t.split_pieces += s.split_pieces;
    for (size_t r = 0; r < t.dropped.size(); ++r) t.dropped[r] += s.dropped[r];
    t.bad.merge(s.bad);
    t.train_docs += s.train_docs;
    t.val_docs += s.val_docs;
    t.mixed_docs += s.mixed_docs;
  }
  return t;
}

std::string PrepareStats::to_json() const {
  json j;
  j["sources"] = json::array();
  for (const auto& s : sources) j["sources"].push_back(tally_json(s));
  j["train_rows"] = train_rows;
  j["val_rows"] = val_rows;
  j["train_efficiency"] = train_efficiency;
  j["val_efficiency"] = val_efficiency;
  j["seconds"] = seconds;
  return j.dump();
}

PrepareStats PrepareStats::from_json(const std::string& text) {
  json j = json::parse(text);
  PrepareStats stats;
  for (const auto& s : j.at("sources")) stats.sources.push_back(tally_from_json(s));
  stats.train_rows = j.at("train_rows");
  stats.val_rows = j.at("val_rows");
  stats.train_efficiency = j.at("train_efficiency");
  stats.val_efficiency = j.at("val_efficiency");
  stats.seconds = j.at("seconds");
  return stats;
}

std::string file_hash(const fs::path& path) {
  XXH3_state_t* state = XXH3_createState();
  XXH3_128bits_reset(state);
  hash_file_into(state, path);
  std::string h = hex128(XXH3_128bits_digest(state));
  XXH3_freeState(state);
  return h;
}

std::string tokenizer_fingerprint(const fs::path& path) {
  if (!fs::is_directory(path)) return file_hash(path);
  XXH3_state_t* state = XXH3_createState();
  XXH3_128bits_reset(state);
  for (const char* name : {"tokenizer.json", "tokenizer_config.json", "tokenizer.model", "special_tokens_map.json",
                           "chat_template.jinja"}) {
    fs::path file = path / name;
    if (!fs::is_regular_file(file)) continue;
    XXH3_128bits_update(state, name, std::strlen(name) + 1);
    hash_file_into(state, file);
  }
  std::string h = hex128(XXH3_128bits_digest(state));
  XXH3_freeState(state);
  return h;
}

namespace {

json identity_json(const DataConfig& config, const TokenizerIdentity& identity) {
  json sources = json::array();
  for (const auto& s : config.sources) sources.push_back({{"path", s.path.string()}, {"hash", file_hash(s.path)}});
  XXH128_hash_t template_hash = XXH3_128bits(identity.chat_template.data(), identity.chat_template.size());
  return {{"pipeline", kPipelineVersion}, {"tailor", build_info::version}, {"sources", sources},
          {"tokenizer", identity.tokenizer_hash}, {"chat_template", hex128(template_hash)},
          {"data_section", config.canonical()}};
}

}  // namespace

std::string cache_key(const DataConfig& config, const TokenizerIdentity& identity) {
  std::string text = identity_json(config, identity).dump();
  return hex128(XXH3_128bits(text.data(), text.size()));
}

TokenId pad_id_for(const Tokenizer& tokenizer) {
  const SpecialTokens& special = tokenizer.special_tokens();
  return special.pad ? *special.pad : special.eos ? *special.eos : 0;
}

PrepareResult prepare_dataset(const DataConfig& config, const Tokenizer& tokenizer, const ChatEncoder* chat,
                              const TokenizerIdentity& identity, bool force) {
  auto started = std::chrono::steady_clock::now();
  json identity_doc = identity_json(config, identity);
  std::string identity_text = identity_doc.dump();
  std::string key = hex128(XXH3_128bits(identity_text.data(), identity_text.size()));
  fs::path target = config.cache_dir / ("prepared-" + key + ".h5");

  if (!force && fs::is_regular_file(target)) {
    try {
      auto dataset = PreparedDataset::open(target);
      if (dataset->key() == key) {
        PrepareResult result{dataset, PrepareStats::from_json(dataset->stats_json())};
        result.stats.cache_hit = true;
        result.stats.cache_file = target.string();
        result.stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        return result;
      }
    } catch (const InputError&) {
      // An unreadable cache is rebuilt.
    }
  }

  TransformOptions options{config.mask, config.length_policy, config.max_seq_len};
  Transformer transformer(tokenizer, chat, options);
  int threads = config.threads > 0 ? config.threads : std::max(1u, std::thread::hardware_concurrency());
  CacheWriter writer(target);
  std::unordered_set<uint64_t> seen;
  std::vector<uint64_t> doc_hashes;
  PrepareStats stats;
  SourceProcessor processor(config, transformer, threads, seen, writer, doc_hashes);
  for (size_t i = 0; i < config.sources.size(); ++i) {
    try {
      stats.sources.push_back(processor.run(config.sources[i], static_cast<int32_t>(i)));
    } catch (const InputError&) {
      rethrow_with_context("data.sources[" + std::to_string(i) + "]");
    }
  }

  // Split: a val source is all validation; otherwise val_ratio of a source's documents, chosen by a
  // seeded hash of the document's content (stable when other documents change).
  const auto& sources = writer.sources();
  std::vector<std::vector<int64_t>> train_by_source(config.sources.size());
  std::vector<int64_t> val;
  const uint64_t threshold = static_cast<uint64_t>(config.val_ratio * 18446744073709551615.0);
  for (size_t d = 0; d < sources.size(); ++d) {
    const SourceConfig& source = config.sources[sources[d]];
    bool is_val = source.split == SplitRole::Val ||
                  (config.val_ratio > 0 && splitmix64(doc_hashes[d] ^ config.seed) < threshold);
    if (is_val) {
      val.push_back(static_cast<int64_t>(d));
      ++stats.sources[sources[d]].val_docs;
    } else {
      train_by_source[sources[d]].push_back(static_cast<int64_t>(d));
      ++stats.sources[sources[d]].train_docs;
    }
  }
  size_t train_docs = 0;
  for (const auto& docs : train_by_source) train_docs += docs.size();
  if (train_docs == 0) {
    SourceStats t = stats.total();
    uint64_t dropped = 0;
    for (uint64_t c : t.dropped) dropped += c;
    throw InputError("the dataset is empty after preparation: " + std::to_string(t.records) + " records read, " +
                     std::to_string(t.bad.total()) + " bad, " + std::to_string(dropped) + " dropped, " +
                     std::to_string(t.val_docs) + " in validation");
  }
  std::vector<int64_t> train_order = mix_training_documents(config, train_by_source, stats.sources);
  std::mt19937_64 rng(splitmix64(config.seed + 1));
  std::shuffle(val.begin(), val.end(), rng);

  const auto& lengths = writer.lengths();
  int64_t capacity = static_cast<int64_t>(config.max_seq_len);
  auto pack = [&](const std::vector<int64_t>& order) {
    return config.packing ? pack_best_fit(lengths, order, capacity, config.seed)
                          : pack_one_per_row(lengths, order, capacity);
  };
  PackPlan train_plan = pack(train_order), val_plan = pack(val);
  stats.train_rows = static_cast<int64_t>(train_plan.rows.size());
  stats.val_rows = static_cast<int64_t>(val_plan.rows.size());
  stats.train_efficiency = train_plan.efficiency();
  stats.val_efficiency = val_plan.efficiency();
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  CacheSettings settings{capacity, config.packing, pad_id_for(tokenizer), config.seed};
  writer.commit(settings, train_plan, val_plan, key, identity_text, stats.to_json());
  stats.cache_file = target.string();
  return {PreparedDataset::open(target), stats};
}

}  // namespace tailor::data
