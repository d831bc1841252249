#include "data/tokenizers/bpe_model.h"

#include <atomic>
#include <queue>

#include "core/error.h"
#include "data/tokenizers/unicode_text.h"

namespace tailor::data {
namespace {

// GPT-2's byte -> code point table: printable bytes map to themselves, the other 68 to U+0100 + n.
struct ByteAlphabet {
  char32_t to_cp[256];
  int16_t from_cp[0x144];
  ByteAlphabet() {
    for (auto& v : from_cp) v = -1;
    int n = 0;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      to_cp[b] = printable ? char32_t(b) : char32_t(0x100 + n++);
      from_cp[to_cp[b]] = int16_t(b);
    }
  }
};
const ByteAlphabet kBytes;

// Words longer than this are merged without caching (long unspaced runs rarely repeat).
constexpr size_t kCacheMaxWordBytes = 256;
constexpr size_t kCacheMaxEntries = 1 << 17;
// Below this many symbols a quadratic scan beats the heap.
constexpr size_t kSmallWord = 48;

std::atomic<uint64_t> next_instance{1};

struct WordCache {
  uint64_t owner = 0;
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, std::vector<TokenId>, Hash, std::equal_to<>> words;
};

WordCache& cache_for(uint64_t owner) {
  thread_local WordCache cache;
  if (cache.owner != owner || cache.words.size() >= kCacheMaxEntries) {
    cache.words.clear();
    cache.owner = owner;
  }
  return cache;
}

constexpr std::string_view kMetaspace = "\u2581";

// True when `token` has a "▁" right after a character that is not "▁".
bool metaspace_inside(std::string_view token) {
  for (size_t pos = token.find(kMetaspace, 1); pos != std::string_view::npos; pos = token.find(kMetaspace, pos + 1))
    if (!token.substr(0, pos).ends_with(kMetaspace)) return true;
  return false;
}

std::string byte_token(unsigned b) {
  static const char* hex = "0123456789ABCDEF";
  return std::string("<0x") + hex[b >> 4] + hex[b & 15] + ">";
}

}  // namespace

void MergeTable::reserve(size_t n) {
  size_t cap = 16;
  while (cap < n * 2) cap <<= 1;
  slots_.assign(cap, Slot{});
  mask_ = cap - 1;
  size_ = 0;
}

void MergeTable::insert(TokenId left, TokenId right, uint32_t rank, TokenId merged) {
  if ((size_ + 1) * 2 > slots_.size()) {
    std::vector<Slot> old = std::move(slots_);
    reserve(size_ + 1);
    for (const Slot& s : old)
      if (s.key != kEmpty) insert(TokenId(s.key >> 32), TokenId(uint32_t(s.key)), uint32_t(s.value >> 32), TokenId(uint32_t(s.value)));
  }
  uint64_t key = pack(left, right);
  for (size_t i = hash(key) & mask_;; i = (i + 1) & mask_) {
    Slot& s = slots_[i];
    if (s.key == key) return;  // a duplicate merge keeps its first (lowest) rank
    if (s.key == kEmpty) {
      s.key = key;
      s.value = (uint64_t(rank) << 32) | uint32_t(merged);
      ++size_;
      return;
    }
  }
}

namespace {

std::optional<std::string> try_byte_level_decode(std::string_view spelling) {
  std::string out;
  size_t i = 0;
  while (i < spelling.size()) {
    if (text::valid_utf8_length(spelling, i) == 0) return std::nullopt;
    char32_t cp = text::next_code_point(spelling, i);
    if (cp >= 0x144 || kBytes.from_cp[cp] < 0) return std::nullopt;
    out += static_cast<char>(kBytes.from_cp[cp]);
  }
  return out;
}

}  // namespace

std::string BpeModel::byte_level_decode(std::string_view spelling) {
  auto bytes = try_byte_level_decode(spelling);
  return bytes ? std::move(*bytes) : std::string(spelling);
}

std::string BpeModel::byte_level_encode(std::string_view bytes) {
  std::string out;
  for (unsigned char b : bytes) text::append_utf8(out, kBytes.to_cp[b]);
  return out;
}

BpeModel::BpeModel(std::vector<std::pair<std::string, TokenId>> vocab,
                   const std::vector<std::pair<std::string, std::string>>& merges, BpeOptions options)
    : options_(std::move(options)), instance_(next_instance++) {
  TokenId max_id = -1;
  for (const auto& [s, id] : vocab) {
    if (id < 0) throw InputError("vocabulary entry '" + s + "' has negative id " + std::to_string(id));
    max_id = std::max(max_id, id);
  }
  spellings_.resize(size_t(max_id + 1));
  present_.assign(size_t(max_id + 1), false);
  by_spelling_.reserve(vocab.size());
  for (auto& [s, id] : vocab) {
    if (options_.byte_level) {
      // Spellings outside the byte alphabet can never be produced from text.
      if (auto bytes = try_byte_level_decode(s)) by_bytes_.emplace(std::move(*bytes), id);
    }
    by_spelling_.emplace(s, id);
    spellings_[size_t(id)] = std::move(s);
    present_[size_t(id)] = true;
  }
  for (unsigned b = 0; b < 256; ++b) {
    auto id = options_.byte_level ? find(byte_level_encode(std::string(1, char(b)))) : find(byte_token(b));
    byte_ids_[b] = id ? *id : -1;
  }
  if (!options_.byte_level) {
    split_at_metaspace_ = true;
    for (const auto& [s, id] : by_spelling_)
      if (metaspace_inside(s)) {
        split_at_metaspace_ = false;
        break;
      }
  }
  if (options_.unk_token) {
    unk_id_ = find(*options_.unk_token);
    if (!unk_id_) throw InputError("unk_token '" + *options_.unk_token + "' is not in the vocabulary");
  }
  merges_.reserve(merges.size());
  uint32_t rank = 0;
  for (const auto& [l, r] : merges) {
    auto left = find(l), right = find(r), merged = find(l + r);
    if (left && right && merged) merges_.insert(*left, *right, rank, *merged);
    ++rank;
  }
}

std::optional<TokenId> BpeModel::find(std::string_view spelling) const {
  auto it = by_spelling_.find(spelling);
  if (it == by_spelling_.end()) return std::nullopt;
  return it->second;
}

std::optional<TokenId> BpeModel::find_word(std::string_view word) const {
  const auto& map = options_.byte_level ? by_bytes_ : by_spelling_;
  auto it = map.find(word);
  if (it == map.end()) return std::nullopt;
  return it->second;
}

const std::string* BpeModel::spelling(TokenId id) const {
  if (id < 0 || size_t(id) >= spellings_.size() || !present_[size_t(id)]) return nullptr;
  return &spellings_[size_t(id)];
}

void BpeModel::initial_symbols(std::string_view word, std::vector<TokenId>& ids) const {
  if (options_.byte_level) {
    // A byte with no vocabulary entry becomes unk, or is dropped when there is none (as HF does).
    for (unsigned char b : word) {
      if (byte_ids_[b] >= 0) ids.push_back(byte_ids_[b]);
      else if (unk_id_) ids.push_back(*unk_id_);
    }
    return;
  }
  TokenId pending_unk = -1;  // an unknown character not yet emitted (fused with the next with fuse_unk)
  size_t i = 0;
  while (i < word.size()) {
    size_t n = text::valid_utf8_length(word, i);
    if (n == 0) n = 1;
    std::string_view ch = word.substr(i, n);
    i += n;
    if (auto id = find(ch)) {
      if (pending_unk >= 0) ids.push_back(pending_unk), pending_unk = -1;
      ids.push_back(*id);
      continue;
    }
    if (options_.byte_fallback) {
      bool all = true;
      for (unsigned char b : ch) all = all && byte_ids_[b] >= 0;
      if (all) {
        for (unsigned char b : ch) ids.push_back(byte_ids_[b]);
        continue;
      }
    }
    if (unk_id_) {
      if (pending_unk >= 0 && !options_.fuse_unk) ids.push_back(pending_unk);
      pending_unk = *unk_id_;
    }
  }
  if (pending_unk >= 0) ids.push_back(pending_unk);
}

void BpeModel::merge_small(std::vector<TokenId>& ids) const {
  // ranks[i]: (rank << 32 | merged) of the pair (ids[i], ids[i + 1]); the lowest rank merges first,
  // the leftmost on ties.
  std::vector<uint64_t> ranks(ids.size());
  for (size_t i = 0; i + 1 < ids.size(); ++i) ranks[i] = merges_.find(ids[i], ids[i + 1]);
  while (ids.size() > 1) {
    size_t best = 0;
    uint64_t best_rank = MergeTable::kNone;
    for (size_t i = 0; i + 1 < ids.size(); ++i)
      if (ranks[i] < best_rank) best_rank = ranks[i], best = i;
    if (best_rank == MergeTable::kNone) break;
    ids[best] = TokenId(uint32_t(best_rank));
    ids.erase(ids.begin() + long(best) + 1);
    ranks.erase(ranks.begin() + long(best) + 1);
    ranks[best] = best + 1 < ids.size() ? merges_.find(ids[best], ids[best + 1]) : MergeTable::kNone;
    if (best > 0) ranks[best - 1] = merges_.find(ids[best - 1], ids[best]);
  }
}

void BpeModel::merge_large(std::vector<TokenId>& ids) const {
  // HF's algorithm: a heap of candidate merges ordered by (rank, position) over a linked list of
  // symbols; stale entries are recognised by re-checking the pair.
  struct Symbol {
    TokenId id;
    int prev, next;
    bool alive;
  };
  struct Candidate {
    uint64_t rank_merged;
    size_t pos;
    bool operator>(const Candidate& o) const {
      uint64_t a = rank_merged >> 32, b = o.rank_merged >> 32;
      return a != b ? a > b : pos > o.pos;
    }
  };
  std::vector<Symbol> sym(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) sym[i] = {ids[i], int(i) - 1, i + 1 < ids.size() ? int(i + 1) : -1, true};
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> queue;
  for (size_t i = 0; i + 1 < ids.size(); ++i)
    if (uint64_t m = merges_.find(ids[i], ids[i + 1]); m != MergeTable::kNone) queue.push({m, i});
  while (!queue.empty()) {
    Candidate top = queue.top();
    queue.pop();
    Symbol& left = sym[top.pos];
    if (!left.alive || left.next < 0) continue;
    Symbol& right = sym[size_t(left.next)];
    if (merges_.find(left.id, right.id) != top.rank_merged) continue;
    left.id = TokenId(uint32_t(top.rank_merged));
    right.alive = false;
    left.next = right.next;
    if (right.next >= 0) sym[size_t(right.next)].prev = int(top.pos);
    if (left.prev >= 0)
      if (uint64_t m = merges_.find(sym[size_t(left.prev)].id, left.id); m != MergeTable::kNone)
        queue.push({m, size_t(left.prev)});
    if (left.next >= 0)
      if (uint64_t m = merges_.find(left.id, sym[size_t(left.next)].id); m != MergeTable::kNone) queue.push({m, top.pos});
  }
  ids.clear();
  for (int i = 0; i >= 0 && size_t(i) < sym.size(); i = sym[size_t(i)].next) ids.push_back(sym[size_t(i)].id);
}

void BpeModel::encode_word(std::string_view word, std::vector<TokenId>& out) const {
  if (word.empty()) return;
  if (options_.ignore_merges)
    if (auto id = find_word(word)) {
      out.push_back(*id);
      return;
    }
  if (!split_at_metaspace_ || word.size() <= kCacheMaxWordBytes) return encode_chunk(word, out);
  // Chunks start where a run of "▁" starts.
  size_t begin = 0;
  for (size_t pos = word.find(kMetaspace, 1); pos != std::string_view::npos; pos = word.find(kMetaspace, pos + 1)) {
    if (word.substr(0, pos).ends_with(kMetaspace)) continue;
    encode_chunk(word.substr(begin, pos - begin), out);
    begin = pos;
  }
  encode_chunk(word.substr(begin), out);
}

void BpeModel::encode_chunk(std::string_view word, std::vector<TokenId>& out) const {
  bool cacheable = word.size() <= kCacheMaxWordBytes;
  WordCache* cache = nullptr;
  if (cacheable) {
    cache = &cache_for(instance_);
    if (auto it = cache->words.find(word); it != cache->words.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<TokenId> ids;
  ids.reserve(word.size());
  initial_symbols(word, ids);
  if (ids.size() <= kSmallWord) merge_small(ids);
  else merge_large(ids);
  out.insert(out.end(), ids.begin(), ids.end());
  if (cache) cache->words.emplace(std::string(word), std::move(ids));
}

}  // namespace tailor::data
