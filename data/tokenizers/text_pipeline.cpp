#include "data/tokenizers/text_pipeline.h"

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "data/tokenizers/bpe_model.h"
#include "data/tokenizers/split_regex.h"
#include "data/tokenizers/unicode_text.h"

namespace tailor::data {
namespace {

using json = nlohmann::json;

const std::string kGpt2Pattern = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
const std::string kLlama3Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const std::string kQwen2Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

std::string type_of(const json& spec, const char* component) {
  if (!spec.is_object() || !spec.contains("type") || !spec["type"].is_string())
    throw InputError(std::string(component) + ": expected an object with a string \"type\"");
  return spec["type"].get<std::string>();
}

// A Split/Replace "pattern": {"String": s} or {"Regex": r}.
std::string pattern_regex(const json& pattern, const char* component) {
  if (pattern.is_object() && pattern.contains("Regex") && pattern["Regex"].is_string()) return pattern["Regex"];
  if (pattern.is_object() && pattern.contains("String") && pattern["String"].is_string())
    return regex_escape(pattern["String"].get<std::string>());
  throw InputError(std::string(component) + ": pattern must be {\"String\": ...} or {\"Regex\": ...}");
}

std::string first_char(const std::string& s, const char* component) {
  if (s.empty() || text::first_invalid_utf8(s) != s.size()) throw InputError(std::string(component) + ": empty or invalid character");
  size_t i = 0;
  text::next_code_point(s, i);
  return s.substr(0, i);
}

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  if (from.empty() || s.find(from) == std::string::npos) return;
  std::string out;
  size_t pos = 0;
  for (size_t hit; (hit = s.find(from, pos)) != std::string::npos; pos = hit + from.size()) {
    out.append(s, pos, hit - pos);
    out.append(to);
  }
  out.append(s, pos);
  s = std::move(out);
}

// ---- normalizers ----

class UnicodeNormalizer : public Normalizer {
 public:
  explicit UnicodeNormalizer(text::NormalForm form) : form_(form) {}
  void apply(std::string& s) const override {
    std::string out;
    if (text::normalize(s, form_, out)) s = std::move(out);
  }

 private:
  text::NormalForm form_;
};

class PrependNormalizer : public Normalizer {
 public:
  explicit PrependNormalizer(std::string prefix) : prefix_(std::move(prefix)) {}
  void apply(std::string& s) const override {
    if (!s.empty()) s.insert(0, prefix_);
  }

 private:
  std::string prefix_;
};

class ReplaceNormalizer : public Normalizer {
 public:
  ReplaceNormalizer(const json& pattern, std::string content) : content_(std::move(content)) {
    if (pattern.contains("String")) literal_ = pattern["String"].get<std::string>();
    else regex_ = std::make_unique<SplitRegex>(pattern_regex(pattern, "normalizer Replace"));
  }
  void apply(std::string& s) const override {
    if (!regex_) return replace_all(s, literal_, content_);
    std::vector<SplitRegex::Match> matches;
    regex_->find_all(s, matches);
    if (matches.empty()) return;
    std::string out;
    size_t pos = 0;
    for (const auto& m : matches) {
      out.append(s, pos, m.begin - pos);
      out += content_;
      pos = m.end;
    }
    out.append(s, pos);
    s = std::move(out);
  }

 private:
  std::string literal_, content_;
  std::unique_ptr<SplitRegex> regex_;
};

class LowercaseNormalizer : public Normalizer {
 public:
  void apply(std::string& s) const override { s = text::to_lower(s); }
};

class StripNormalizer : public Normalizer {
 public:
  StripNormalizer(bool left, bool right) : left_(left), right_(right) {}
  void apply(std::string& s) const override {
    size_t begin = 0, end = s.size();
    if (left_)
      while (begin < end) {
        size_t i = begin;
        if (!text::is_white_space(text::next_code_point(s, i))) break;
        begin = i;
      }
    if (right_)
      while (end > begin) {
        size_t start = end - 1;
        while (start > begin && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
        size_t i = start;
        if (!text::is_white_space(text::next_code_point(s, i))) break;
        end = start;
      }
    s = s.substr(begin, end - begin);
  }

 private:
  bool left_, right_;
};

void add_normalizer(const json& spec, std::vector<std::unique_ptr<Normalizer>>& out) {
  std::string type = type_of(spec, "normalizer");
  if (type == "Sequence") {
    for (const json& n : spec.at("normalizers")) add_normalizer(n, out);
  } else if (type == "NFC") {
    out.push_back(std::make_unique<UnicodeNormalizer>(text::NormalForm::NFC));
  } else if (type == "NFD") {
    out.push_back(std::make_unique<UnicodeNormalizer>(text::NormalForm::NFD));
  } else if (type == "NFKC") {
    out.push_back(std::make_unique<UnicodeNormalizer>(text::NormalForm::NFKC));
  } else if (type == "NFKD") {
    out.push_back(std::make_unique<UnicodeNormalizer>(text::NormalForm::NFKD));
  } else if (type == "Prepend") {
    out.push_back(std::make_unique<PrependNormalizer>(spec.at("prepend").get<std::string>()));
  } else if (type == "Replace") {
    out.push_back(std::make_unique<ReplaceNormalizer>(spec.at("pattern"), spec.at("content").get<std::string>()));
  } else if (type == "Lowercase") {
    out.push_back(std::make_unique<LowercaseNormalizer>());
  } else if (type == "Strip") {
    out.push_back(std::make_unique<StripNormalizer>(spec.value("strip_left", true), spec.value("strip_right", true)));
  } else {
    throw InputError("normalizer type '" + type + "' is not supported (supported: Sequence, NFC, NFD, NFKC, NFKD, "
                     "Prepend, Replace, Lowercase, Strip)");
  }
}

// ---- pre-tokenizers ----

enum class SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

SplitBehavior parse_behavior(const std::string& b) {
  if (b == "Removed") return SplitBehavior::Removed;
  if (b == "Isolated") return SplitBehavior::Isolated;
  if (b == "MergedWithPrevious") return SplitBehavior::MergedWithPrevious;
  if (b == "MergedWithNext") return SplitBehavior::MergedWithNext;
  if (b == "Contiguous") return SplitBehavior::Contiguous;
  throw InputError("pre_tokenizer Split: unknown behavior '" + b + "'");
}

struct Segment {
  size_t begin, end;
  bool is_match;
};

// HF's NormalizedString::split: applies the behaviour to segments covering the piece.
void split_piece(std::string_view piece, std::vector<Segment>& segs, SplitBehavior behavior,
                 std::vector<std::string_view>& out) {
  std::vector<Segment> merged;
  bool previous_match = false;
  switch (behavior) {
    case SplitBehavior::Removed:
      for (const auto& s : segs)
        if (!s.is_match) merged.push_back(s);
      break;
    case SplitBehavior::Isolated:
      merged = segs;
      break;
    case SplitBehavior::MergedWithPrevious:
      for (const auto& s : segs) {
        if (s.is_match && !previous_match && !merged.empty()) merged.back().end = s.end;
        else merged.push_back(s);
        previous_match = s.is_match;
      }
      break;
    case SplitBehavior::MergedWithNext:
      for (auto it = segs.rbegin(); it != segs.rend(); ++it) {
        if (it->is_match && !previous_match && !merged.empty()) merged.back().begin = it->begin;
        else merged.push_back(*it);
        previous_match = it->is_match;
      }
      std::reverse(merged.begin(), merged.end());
      break;
    case SplitBehavior::Contiguous:
      for (const auto& s : segs) {
        if (s.is_match == previous_match && !merged.empty()) merged.back().end = s.end;
        else merged.push_back(s);
        previous_match = s.is_match;
      }
      break;
  }
  for (const auto& s : merged)
    if (s.end > s.begin) out.push_back(piece.substr(s.begin, s.end - s.begin));
}

class RegexSplit : public PreTokenizer {
 public:
  RegexSplit(const std::string& pattern, SplitBehavior behavior, bool invert)
      : regex_(pattern), behavior_(behavior), invert_(invert) {}
  void apply(Pieces& pieces) const override {
    std::vector<std::string_view> out;
    out.reserve(pieces.parts.size() * 4);
    std::vector<SplitRegex::Match> matches;
    std::vector<Segment> segs;
    for (std::string_view piece : pieces.parts) {
      matches.clear();
      segs.clear();
      regex_.find_all(piece, matches);
      if (behavior_ == SplitBehavior::Isolated && !invert_) {
        // The hot path for every byte-level tokenizer: no segment bookkeeping.
        size_t prev = 0;
        for (const auto& m : matches) {
          if (m.begin > prev) out.push_back(piece.substr(prev, m.begin - prev));
          out.push_back(piece.substr(m.begin, m.end - m.begin));
          prev = m.end;
        }
        if (prev < piece.size()) out.push_back(piece.substr(prev));
        continue;
      }
      size_t prev = 0;
      for (const auto& m : matches) {
        if (m.begin > prev) segs.push_back({prev, m.begin, invert_});
        segs.push_back({m.begin, m.end, !invert_});
        prev = m.end;
      }
      if (prev < piece.size()) segs.push_back({prev, piece.size(), invert_});
      split_piece(piece, segs, behavior_, out);
    }
    pieces.parts = std::move(out);
  }

 private:
  SplitRegex regex_;
  SplitBehavior behavior_;
  bool invert_;
};

class ByteLevelPreTokenizer : public PreTokenizer {
 public:
  ByteLevelPreTokenizer(bool add_prefix_space, bool use_regex) : add_prefix_space_(add_prefix_space) {
    if (use_regex) split_ = std::make_unique<RegexSplit>(kGpt2Pattern, SplitBehavior::Isolated, false);
  }
  void apply(Pieces& pieces) const override {
    if (add_prefix_space_)
      for (auto& p : pieces.parts)
        if (!p.starts_with(' ')) {
          std::string prefixed(1, ' ');
          prefixed.append(p);
          p = pieces.own(std::move(prefixed));
        }
    if (split_) split_->apply(pieces);
  }
  bool byte_level() const override { return true; }

 private:
  bool add_prefix_space_;
  std::unique_ptr<RegexSplit> split_;
};

class DigitsPreTokenizer : public PreTokenizer {
 public:
  explicit DigitsPreTokenizer(bool individual) : individual_(individual) {}
  void apply(Pieces& pieces) const override {
    std::vector<std::string_view> out;
    std::vector<Segment> segs;
    for (std::string_view piece : pieces.parts) {
      segs.clear();
      size_t last = 0, i = 0;
      while (i < piece.size()) {
        size_t start = i;
        char32_t cp = text::next_code_point(piece, i);
        if (!text::is_numeric(cp)) continue;
        if (last < start) segs.push_back({last, start, false});
        segs.push_back({start, i, true});
        last = i;
      }
      if (last < piece.size()) segs.push_back({last, piece.size(), false});
      split_piece(piece, segs, individual_ ? SplitBehavior::Isolated : SplitBehavior::Contiguous, out);
    }
    pieces.parts = std::move(out);
  }

 private:
  bool individual_;
};

class MetaspacePreTokenizer : public PreTokenizer {
 public:
  MetaspacePreTokenizer(std::string replacement, std::string scheme, bool split)
      : replacement_(std::move(replacement)), scheme_(std::move(scheme)), split_(split) {}
  void apply(Pieces& pieces) const override {
    std::vector<std::string_view> out;
    std::vector<Segment> segs;
    for (size_t k = 0; k < pieces.parts.size(); ++k) {
      std::string s(pieces.parts[k]);
      replace_all(s, " ", replacement_);
      bool first = k == 0 && pieces.at_text_start;
      if (!s.starts_with(replacement_) && (scheme_ == "always" || (scheme_ == "first" && first))) s.insert(0, replacement_);
      std::string_view piece = pieces.own(std::move(s));
      if (!split_) {
        out.push_back(piece);
        continue;
      }
      segs.clear();
      size_t prev = 0;
      for (size_t hit; (hit = piece.find(replacement_, prev)) != std::string_view::npos; prev = hit + replacement_.size()) {
        if (hit > prev) segs.push_back({prev, hit, false});
        segs.push_back({hit, hit + replacement_.size(), true});
      }
      if (prev < piece.size()) segs.push_back({prev, piece.size(), false});
      split_piece(piece, segs, SplitBehavior::MergedWithNext, out);
    }
    pieces.parts = std::move(out);
  }

 private:
  std::string replacement_, scheme_;
  bool split_;
};

void add_pre_tokenizer(const json& spec, std::vector<std::unique_ptr<PreTokenizer>>& out) {
  std::string type = type_of(spec, "pre_tokenizer");
  if (type == "Sequence") {
    for (const json& p : spec.at("pretokenizers")) add_pre_tokenizer(p, out);
  } else if (type == "Split") {
    out.push_back(std::make_unique<RegexSplit>(pattern_regex(spec.at("pattern"), "pre_tokenizer Split"),
                                               parse_behavior(spec.at("behavior").get<std::string>()),
                                               spec.value("invert", false)));
  } else if (type == "ByteLevel") {
    out.push_back(std::make_unique<ByteLevelPreTokenizer>(spec.value("add_prefix_space", false), spec.value("use_regex", true)));
  } else if (type == "Digits") {
    out.push_back(std::make_unique<DigitsPreTokenizer>(spec.value("individual_digits", false)));
  } else if (type == "Metaspace") {
    std::string scheme = spec.value("prepend_scheme", std::string(spec.value("add_prefix_space", true) ? "always" : "never"));
    out.push_back(std::make_unique<MetaspacePreTokenizer>(first_char(spec.value("replacement", std::string("\u2581")), "Metaspace"),
                                                          scheme, spec.value("split", true)));
  } else {
    throw InputError("pre_tokenizer type '" + type + "' is not supported (supported: Sequence, Split, ByteLevel, Digits, Metaspace)");
  }
}

// ---- decoders ----

class ByteLevelDecoder : public Decoder {
 public:
  void apply(std::vector<std::string>& tokens) const override {
    std::string bytes;
    for (const auto& t : tokens) bytes += BpeModel::byte_level_decode(t);
    tokens.assign(1, utf8_lossy(bytes));
  }
};

class ReplaceDecoder : public Decoder {
 public:
  ReplaceDecoder(std::string from, std::string to) : from_(std::move(from)), to_(std::move(to)) {}
  void apply(std::vector<std::string>& tokens) const override {
    for (auto& t : tokens) replace_all(t, from_, to_);
  }

 private:
  std::string from_, to_;
};

class ByteFallbackDecoder : public Decoder {
 public:
  void apply(std::vector<std::string>& tokens) const override {
    std::vector<std::string> out;
    std::string pending;
    size_t pending_count = 0;
    auto flush = [&] {
      if (!pending_count) return;
      if (text::first_invalid_utf8(pending) == pending.size()) out.push_back(pending);
      else
        for (size_t i = 0; i < pending_count; ++i) out.emplace_back("\uFFFD");
      pending.clear();
      pending_count = 0;
    };
    for (auto& t : tokens) {
      if (t.size() == 6 && t.starts_with("<0x") && t.back() == '>' && std::isxdigit(static_cast<unsigned char>(t[3])) &&
          std::isxdigit(static_cast<unsigned char>(t[4]))) {
        pending += static_cast<char>(std::stoi(t.substr(3, 2), nullptr, 16));
        ++pending_count;
        continue;
      }
      flush();
      out.push_back(std::move(t));
    }
    flush();
    tokens = std::move(out);
  }
};

class FuseDecoder : public Decoder {
 public:
  void apply(std::vector<std::string>& tokens) const override {
    std::string all;
    for (const auto& t : tokens) all += t;
    tokens.assign(1, std::move(all));
  }
};

class StripDecoder : public Decoder {
 public:
  StripDecoder(std::string content, size_t start, size_t stop) : content_(std::move(content)), start_(start), stop_(stop) {}
  void apply(std::vector<std::string>& tokens) const override {
    for (auto& t : tokens) {
      size_t begin = 0, end = t.size();
      for (size_t k = 0; k < start_ && std::string_view(t).substr(begin).starts_with(content_); ++k) begin += content_.size();
      for (size_t k = 0; k < stop_ && end >= begin + content_.size() && std::string_view(t).substr(begin, end - begin).ends_with(content_); ++k)
        end -= content_.size();
      t = t.substr(begin, end - begin);
    }
  }

 private:
  std::string content_;
  size_t start_, stop_;
};

class MetaspaceDecoder : public Decoder {
 public:
  MetaspaceDecoder(std::string replacement, bool strip_first) : replacement_(std::move(replacement)), strip_first_(strip_first) {}
  void apply(std::vector<std::string>& tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      replace_all(tokens[i], replacement_, " ");
      if (i == 0 && strip_first_ && tokens[i].starts_with(' ')) tokens[i].erase(0, 1);
    }
  }

 private:
  std::string replacement_;
  bool strip_first_;
};

void add_decoder(const json& spec, std::vector<std::unique_ptr<Decoder>>& out) {
  std::string type = type_of(spec, "decoder");
  if (type == "Sequence") {
    for (const json& d : spec.at("decoders")) add_decoder(d, out);
  } else if (type == "ByteLevel") {
    out.push_back(std::make_unique<ByteLevelDecoder>());
  } else if (type == "Replace") {
    const json& p = spec.at("pattern");
    if (!p.contains("String")) throw InputError("decoder Replace: only String patterns are supported");
    out.push_back(std::make_unique<ReplaceDecoder>(p["String"].get<std::string>(), spec.at("content").get<std::string>()));
  } else if (type == "ByteFallback") {
    out.push_back(std::make_unique<ByteFallbackDecoder>());
  } else if (type == "Fuse") {
    out.push_back(std::make_unique<FuseDecoder>());
  } else if (type == "Strip") {
    out.push_back(std::make_unique<StripDecoder>(first_char(spec.at("content").get<std::string>(), "decoder Strip"),
                                                 spec.value("start", size_t(0)), spec.value("stop", size_t(0))));
  } else if (type == "Metaspace") {
    std::string scheme = spec.value("prepend_scheme", std::string(spec.value("add_prefix_space", true) ? "always" : "never"));
    out.push_back(std::make_unique<MetaspaceDecoder>(spec.value("replacement", std::string("\u2581")), scheme != "never"));
  } else {
    throw InputError("decoder type '" + type + "' is not supported (supported: Sequence, ByteLevel, Replace, ByteFallback, "
                     "Fuse, Strip, Metaspace)");
  }
}

}  // namespace

std::vector<std::unique_ptr<Normalizer>> make_normalizers(const json& spec) {
  std::vector<std::unique_ptr<Normalizer>> out;
  if (!spec.is_null()) add_normalizer(spec, out);
  return out;
}

std::vector<std::unique_ptr<PreTokenizer>> make_pre_tokenizers(const json& spec) {
  std::vector<std::unique_ptr<PreTokenizer>> out;
  if (!spec.is_null()) add_pre_tokenizer(spec, out);
  return out;
}

std::vector<std::unique_ptr<Decoder>> make_decoders(const json& spec) {
  std::vector<std::unique_ptr<Decoder>> out;
  if (!spec.is_null()) add_decoder(spec, out);
  return out;
}

std::vector<std::unique_ptr<PreTokenizer>> pre_tokenizers_for_gguf(const std::string& pre) {
  std::vector<std::unique_ptr<PreTokenizer>> out;
  auto split = [&](const std::string& pattern) {
    out.push_back(std::make_unique<RegexSplit>(pattern, SplitBehavior::Isolated, false));
  };
  if (pre == "llama-bpe" || pre == "llama3" || pre == "llama-v3") {
    split(kLlama3Pattern);
  } else if (pre == "qwen2" || pre == "deepseek-r1-qwen" || pre == "megrez") {
    split(kQwen2Pattern);
  } else if (pre == "deepseek-v3") {
    split(R"(\p{N}{1,3})");
    split("[\u4E00-\u9FA5\u3040-\u309F\u30A0-\u30FF]+");
    split(R"([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)");
  } else if (pre == "smollm") {
    out.push_back(std::make_unique<DigitsPreTokenizer>(true));
    out.push_back(std::make_unique<ByteLevelPreTokenizer>(false, true));
    return out;
  } else if (pre == "gpt-2" || pre == "gpt2" || pre == "default") {
    out.push_back(std::make_unique<ByteLevelPreTokenizer>(false, true));
    return out;
  } else {
    throw InputError("tokenizer.ggml.pre '" + pre + "' is not supported (supported: llama-bpe, qwen2, deepseek-v3, smollm, gpt-2, default)");
  }
  out.push_back(std::make_unique<ByteLevelPreTokenizer>(false, false));
  return out;
}

std::string utf8_lossy(std::string_view bytes) {
  size_t bad = text::first_invalid_utf8(bytes);
  if (bad == bytes.size()) return std::string(bytes);
  std::string out(bytes.substr(0, bad));
  size_t i = bad;
  while (i < bytes.size()) {
    if (size_t n = text::valid_utf8_length(bytes, i)) {
      out.append(bytes.substr(i, n));
      i += n;
      continue;
    }
    // Skip the maximal prefix of a well-formed sequence (at least one byte), emit one U+FFFD.
    unsigned char b0 = static_cast<unsigned char>(bytes[i]);
    size_t need = b0 >= 0xF0 && b0 <= 0xF4 ? 4 : b0 >= 0xE0 ? 3 : b0 >= 0xC2 && b0 < 0xE0 ? 2 : 1;
    size_t k = 1;
    while (k < need && i + k < bytes.size()) {
      unsigned char b = static_cast<unsigned char>(bytes[i + k]);
      unsigned char lo = 0x80, hi = 0xBF;
      if (k == 1) {
        if (b0 == 0xE0) lo = 0xA0;
        if (b0 == 0xED) hi = 0x9F;
        if (b0 == 0xF0) lo = 0x90;
        if (b0 == 0xF4) hi = 0x8F;
      }
      if (b < lo || b > hi) break;
      ++k;
    }
    out += "\uFFFD";
    i += k;
  }
  return out;
}

}  // namespace tailor::data
