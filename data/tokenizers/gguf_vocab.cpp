#include "data/tokenizers/gguf_vocab.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "data/tokenizers/bpe_tokenizer.h"
#include "data/tokenizers/hf_config.h"
#include "data/tokenizers/unicode_text.h"
#include "formats/gguf.h"

namespace tailor::data {
namespace {

using json = nlohmann::json;

enum TokenType { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };

std::vector<std::pair<std::string, std::string>> split_merges(const std::vector<std::string>& merges) {
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(merges.size());
  for (const std::string& m : merges) {
    size_t space = m.find(' ', 1);  // llama.cpp: the first space at index >= 1
    if (space == std::string::npos) throw InputError("tokenizer.ggml.merges: entry '" + m + "' has no separating space");
    out.emplace_back(m.substr(0, space), m.substr(space + 1));
  }
  return out;
}

// SentencePiece BPE merges pieces by score (higher first). As transformers' converter does, every way
// of writing a piece as two vocabulary pieces becomes a merge, ranked by the merged piece's score.
std::vector<std::pair<std::string, std::string>> merges_from_scores(const std::vector<std::string>& tokens,
                                                                    const std::vector<float>& scores,
                                                                    const std::vector<int64_t>& types) {
  std::unordered_map<std::string_view, size_t> index;
  for (size_t i = 0; i < tokens.size(); ++i)
    if (types[i] == kNormal || types[i] == kUserDefined) index.emplace(tokens[i], i);
  struct Candidate {
    float score;
    size_t merged, left, right;
    size_t split;
  };
  std::vector<Candidate> candidates;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (types[i] != kNormal) continue;
    std::string_view piece = tokens[i];
    size_t k = 0;
    while (k < piece.size()) {
      k += std::max<size_t>(1, text::valid_utf8_length(piece, k));
      if (k >= piece.size()) break;
      auto l = index.find(piece.substr(0, k)), r = index.find(piece.substr(k));
      if (l != index.end() && r != index.end()) candidates.push_back({scores[i], i, l->second, r->second, k});
    }
  }
  std::stable_sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
    if (a.score != b.score) return a.score > b.score;
    if (a.merged != b.merged) return a.merged < b.merged;
    return a.left < b.left;
  });
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(candidates.size());
  for (const auto& c : candidates) out.emplace_back(tokens[c.left], tokens[c.right]);
  return out;
}

template <class T>
void require_count(const std::vector<T>& v, size_t n, const char* key) {
  if (v.size() != n)
    throw InputError(std::string(key) + ": " + std::to_string(v.size()) + " entries, expected one per token (" +
                     std::to_string(n) + ")");
}

}  // namespace

std::unique_ptr<Tokenizer> load_gguf_tokenizer(const std::filesystem::path& path) {
  formats::GgufFile file(path);
  try {
    std::string model = file.get_string("tokenizer.ggml.model");
    const auto& tokens = file.get_strings("tokenizer.ggml.tokens");
    std::vector<int64_t> types(tokens.size(), kNormal);
    if (file.find("tokenizer.ggml.token_type")) {
      types = file.get_ints("tokenizer.ggml.token_type");
      require_count(types, tokens.size(), "tokenizer.ggml.token_type");
    }
    BpePipeline p;
    BpeOptions options;
    std::vector<std::pair<std::string, std::string>> merges;
    if (model == "gpt2") {
      std::string pre = file.find("tokenizer.ggml.pre") ? file.get_string("tokenizer.ggml.pre") : "default";
      p.pre_tokenizers = pre_tokenizers_for_gguf(pre);
      p.decoders = make_decoders(json{{"type", "ByteLevel"}});
      options.byte_level = true;
      options.ignore_merges = pre == "llama-bpe" || pre == "llama3" || pre == "llama-v3";
      if (file.find("tokenizer.ggml.merges")) merges = split_merges(file.get_strings("tokenizer.ggml.merges"));
    } else if (model == "llama") {
      std::vector<float> scores(tokens.size(), 0.0f);
      if (file.find("tokenizer.ggml.scores")) {
        scores = file.get_floats("tokenizer.ggml.scores");
        require_count(scores, tokens.size(), "tokenizer.ggml.scores");
      }
      bool space_prefix = !file.find("tokenizer.ggml.add_space_prefix") || file.get_bool("tokenizer.ggml.add_space_prefix");
      json normalizers = json::array();
      if (space_prefix) normalizers.push_back({{"type", "Prepend"}, {"prepend", "\u2581"}});
      normalizers.push_back({{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "\u2581"}});
      p.normalizers = make_normalizers(json{{"type", "Sequence"}, {"normalizers", normalizers}});
      json decoders = json::array({json{{"type", "Replace"}, {"pattern", {{"String", "\u2581"}}}, {"content", " "}},
                                   json{{"type", "ByteFallback"}}, json{{"type", "Fuse"}}});
      if (space_prefix) decoders.push_back({{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}});
      p.decoders = make_decoders(json{{"type", "Sequence"}, {"decoders", decoders}});
      options.byte_fallback = std::find(types.begin(), types.end(), kByte) != types.end();
      options.fuse_unk = true;
      for (size_t i = 0; i < tokens.size(); ++i)
        if (types[i] == kUnknown) options.unk_token = tokens[i];
      merges = merges_from_scores(tokens, scores, types);
    } else {
      throw InputError("tokenizer.ggml.model '" + model + "' is not supported (supported: gpt2, llama)");
    }
    std::vector<std::pair<std::string, TokenId>> vocab;
    vocab.reserve(tokens.size());
    for (size_t i = 0; i < tokens.size(); ++i) {
      vocab.emplace_back(tokens[i], TokenId(i));
      if (types[i] == kControl || types[i] == kUserDefined)
        p.added.push_back({TokenId(i), tokens[i], types[i] == kControl, false, false, false, false});
    }
    p.model = std::make_unique<BpeModel>(std::move(vocab), merges, std::move(options));

    auto id_key = [&](const char* key) -> std::optional<TokenId> {
      if (!file.find(key)) return std::nullopt;
      uint64_t id = file.get_uint(key);
      if (id >= tokens.size()) throw InputError(std::string(key) + ": id " + std::to_string(id) + " is outside the vocabulary");
      return TokenId(id);
    };
    SpecialTokens& s = p.specials;
    s.bos = id_key("tokenizer.ggml.bos_token_id");
    s.eos = id_key("tokenizer.ggml.eos_token_id");
    s.unk = id_key("tokenizer.ggml.unknown_token_id");
    s.pad = id_key("tokenizer.ggml.padding_token_id");
    s.add_bos = file.find("tokenizer.ggml.add_bos_token") ? file.get_bool("tokenizer.ggml.add_bos_token") : model == "llama";
    s.add_eos = file.find("tokenizer.ggml.add_eos_token") && file.get_bool("tokenizer.ggml.add_eos_token");
    for (const char* key : {"tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"})
      if (auto id = id_key(key); id && std::find(s.eos_ids.begin(), s.eos_ids.end(), *id) == s.eos_ids.end())
        s.eos_ids.push_back(*id);
    if (file.find("tokenizer.chat_template")) p.chat_template = file.get_string("tokenizer.chat_template");
    auto tok = std::make_unique<BpeTokenizer>(std::move(p));
    add_end_of_turn_tokens([&](std::string_view t) { return tok->token_to_id(t); }, tok->mutable_special_tokens());
    return tok;
  } catch (const InputError&) {
    rethrow_with_context(path.string());
  }
}

}  // namespace tailor::data
