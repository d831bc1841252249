#include "data/tokenizers/bpe_tokenizer.h"

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "data/tokenizers/hf_config.h"
#include "data/tokenizers/unicode_text.h"

namespace tailor::data {
namespace fs = std::filesystem;
using json = nlohmann::json;

BpeTokenizer::BpeTokenizer(BpePipeline pipeline) : p_(std::move(pipeline)) {
  for (const auto& pre : p_.pre_tokenizers) byte_level_ = byte_level_ || pre->byte_level();
  std::vector<const AddedToken*> raw, normalized;
  vocab_size_ = p_.model->id_bound();
  for (const AddedToken& t : p_.added) {
    if (t.content.empty()) continue;
    (t.normalized && !p_.normalizers.empty() ? normalized : raw).push_back(&t);
    added_by_id_[t.id] = &t;
    added_by_content_.emplace(t.content, t.id);
    vocab_size_ = std::max(vocab_size_, size_t(t.id) + 1);
  }
  raw_matcher_ = AddedTokenMatcher(std::move(raw));
  normalized_matcher_ = AddedTokenMatcher(std::move(normalized));
}

std::vector<TokenId> BpeTokenizer::encode_impl(std::string_view text, bool match_special, bool at_start) const {
  std::vector<TokenId> out;
  out.reserve(text.size() / 3 + 4);
  size_t bad = text::first_invalid_utf8(text);
  if (bad == text.size()) {
    encode_valid(text, match_special, at_start, out);
    return out;
  }
  // Valid runs are tokenized as usual; each invalid byte becomes a byte token.
  size_t run = 0, i = bad;
  while (i < text.size()) {
    if (size_t n = text::valid_utf8_length(text, i)) {
      i += n;
      continue;
    }
    if (i > run) encode_valid(text.substr(run, i - run), match_special, at_start && run == 0, out);
    encode_invalid_byte(text, i, out);
    run = ++i;
  }
  if (run < text.size()) encode_valid(text.substr(run), match_special, at_start && run == 0, out);
  return out;
}

void BpeTokenizer::encode_invalid_byte(std::string_view text, size_t offset, std::vector<TokenId>& out) const {
  unsigned char b = static_cast<unsigned char>(text[offset]);
  if (byte_level_) {
    size_t before = out.size();
    p_.model->encode_word(text.substr(offset, 1), out);
    if (out.size() > before) return;
  } else if (p_.model->options().byte_fallback) {
    static const char* hex = "0123456789ABCDEF";
    if (auto id = p_.model->find(std::string("<0x") + hex[b >> 4] + hex[b & 15] + ">")) {
      out.push_back(*id);
      return;
    }
  }
  char hexbyte[8];
  std::snprintf(hexbyte, sizeof hexbyte, "0x%02X", b);
  throw InputError("invalid UTF-8 at byte offset " + std::to_string(offset) + " (byte " + hexbyte +
                   ") and this vocabulary has no byte tokens");
}

void BpeTokenizer::encode_valid(std::string_view text, bool match_special, bool at_start, std::vector<TokenId>& out) const {
  std::vector<AddedTokenMatcher::Span> spans;
  raw_matcher_.split(text, match_special, spans);
  for (const auto& span : spans) {
    if (span.id) {
      out.push_back(*span.id);
      continue;
    }
    std::string_view segment = text.substr(span.begin, span.end - span.begin);
    bool segment_start = at_start && span.begin == 0;
    if (p_.normalizers.empty()) {
      encode_segment(segment, segment_start, out);
      continue;
    }
    std::string normalized(segment);
    for (const auto& n : p_.normalizers) n->apply(normalized);
    if (normalized_matcher_.empty()) {
      encode_segment(normalized, segment_start, out);
      continue;
    }
    std::vector<AddedTokenMatcher::Span> inner;
    normalized_matcher_.split(normalized, match_special, inner);
    for (const auto& s : inner) {
      if (s.id) out.push_back(*s.id);
      else encode_segment(std::string_view(normalized).substr(s.begin, s.end - s.begin), segment_start && s.begin == 0, out);
    }
  }
}

void BpeTokenizer::encode_segment(std::string_view text, bool at_start, std::vector<TokenId>& out) const {
  if (text.empty()) return;
  Pieces pieces;
  pieces.parts.push_back(text);
  pieces.at_text_start = at_start;
  for (const auto& pre : p_.pre_tokenizers) pre->apply(pieces);
  for (std::string_view piece : pieces.parts) p_.model->encode_word(piece, out);
}

std::string BpeTokenizer::decode(std::span<const TokenId> ids, bool skip_special) const {
  // As HF tokenizers: runs of model tokens go through the decoder chain; added tokens are inserted as
  // their literal content.
  std::string result;
  std::vector<std::string> chunk;
  auto flush = [&] {
    if (chunk.empty()) return;
    if (p_.decoders.empty()) {
      for (size_t i = 0; i < chunk.size(); ++i) result += (i ? " " : "") + chunk[i];
    } else {
      for (const auto& d : p_.decoders) d->apply(chunk);
      for (const auto& s : chunk) result += s;
    }
    chunk.clear();
  };
  for (TokenId id : ids) {
    if (auto it = added_by_id_.find(id); it != added_by_id_.end()) {
      if (skip_special && it->second->special) continue;
      flush();
      result += it->second->content;
    } else if (const std::string* s = p_.model->spelling(id)) {
      chunk.push_back(*s);
    } else {
      throw InputError("token id " + std::to_string(id) + " is not in the vocabulary (size " + std::to_string(vocab_size_) + ")");
    }
  }
  flush();
  return result;
}

std::optional<TokenId> BpeTokenizer::token_to_id(std::string_view token) const {
  if (auto it = added_by_content_.find(std::string(token)); it != added_by_content_.end()) return it->second;
  return p_.model->find(token);
}

std::string BpeTokenizer::id_to_token(TokenId id) const {
  if (auto it = added_by_id_.find(id); it != added_by_id_.end()) return it->second->content;
  if (const std::string* s = p_.model->spelling(id)) return *s;
  throw InputError("token id " + std::to_string(id) + " is not in the vocabulary (size " + std::to_string(vocab_size_) + ")");
}

Tokenizer::WhitespaceStrip BpeTokenizer::added_token_strip(TokenId id) const {
  auto it = added_by_id_.find(id);
  if (it == added_by_id_.end()) return {};
  return {it->second->lstrip, it->second->rstrip};
}

bool BpeTokenizer::is_special(TokenId id) const {
  auto it = added_by_id_.find(id);
  return it != added_by_id_.end() && it->second->special;
}

namespace {

std::vector<std::pair<std::string, std::string>> read_merges(const json& merges) {
  std::vector<std::pair<std::string, std::string>> out;
  if (merges.is_null()) return out;
  if (!merges.is_array()) throw InputError("model.merges: expected an array");
  out.reserve(merges.size());
  for (const json& m : merges) {
    if (m.is_string()) {
      const std::string& s = m.get_ref<const std::string&>();
      size_t space = s.find(' ', 1);
      if (space == std::string::npos || s.find(' ', space + 1) != std::string::npos)
        throw InputError("model.merges: entry '" + s + "' is not two tokens separated by one space");
      out.emplace_back(s.substr(0, space), s.substr(space + 1));
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      out.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
    } else {
      throw InputError("model.merges: entry " + m.dump() + " is neither \"a b\" nor [\"a\", \"b\"]");
    }
  }
  return out;
}

// add_bos / add_eos and their ids from a TemplateProcessing post-processor (possibly in a Sequence).
void read_post_processor(const json& spec, SpecialTokens& specials) {
  if (!spec.is_object()) return;
  std::string type = spec.value("type", "");
  if (type == "Sequence") {
    for (const json& p : spec.value("processors", json::array())) read_post_processor(p, specials);
    return;
  }
  if (type != "TemplateProcessing" || !spec.contains("single")) return;
  bool seen_sequence = false;
  for (const json& piece : spec["single"]) {
    if (piece.contains("Sequence")) {
      seen_sequence = true;
      continue;
    }
    if (!piece.contains("SpecialToken")) continue;
    std::string name = piece["SpecialToken"].value("id", "");
    const json& ids = spec["special_tokens"][name]["ids"];
    if (!ids.is_array() || ids.empty()) continue;
    TokenId id = ids[0].get<TokenId>();
    if (!seen_sequence) specials.add_bos = true, specials.bos = id;
    else specials.add_eos = true, specials.eos = specials.eos.value_or(id);
  }
}

}  // namespace

std::unique_ptr<Tokenizer> load_tokenizer_json(const fs::path& path, const fs::path& config_dir) {
  json spec = read_json_file(path);
  try {
    BpePipeline p;
    const json& model = spec.at("model");
    std::string type = model.value("type", model.contains("merges") ? "BPE" : "");
    if (type != "BPE")
      throw InputError("model type '" + type + "' is not supported (tailor reads BPE tokenizer.json files; use the .model "
                       "file for SentencePiece Unigram models)");
    for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"})
      if (model.contains(key) && model[key].is_string() && !model[key].get_ref<const std::string&>().empty())
        throw InputError(std::string("model.") + key + " is not supported");
    if (model.contains("dropout") && !model["dropout"].is_null() && model["dropout"].get<double>() > 0)
      throw InputError("model.dropout is not supported for encoding");
    p.normalizers = make_normalizers(spec.value("normalizer", json()));
    p.pre_tokenizers = make_pre_tokenizers(spec.value("pre_tokenizer", json()));
    p.decoders = make_decoders(spec.value("decoder", json()));
    BpeOptions options;
    for (const auto& pre : p.pre_tokenizers) options.byte_level = options.byte_level || pre->byte_level();
    options.byte_fallback = model.value("byte_fallback", false);
    options.ignore_merges = model.value("ignore_merges", false);
    options.fuse_unk = model.value("fuse_unk", false);
    if (model.contains("unk_token") && model["unk_token"].is_string()) options.unk_token = model["unk_token"].get<std::string>();
    std::vector<std::pair<std::string, TokenId>> vocab;
    const json& v = model.at("vocab");
    if (!v.is_object()) throw InputError("model.vocab: expected an object of token -> id");
    vocab.reserve(v.size());
    for (auto it = v.begin(); it != v.end(); ++it) vocab.emplace_back(it.key(), it.value().get<TokenId>());
    p.model = std::make_unique<BpeModel>(std::move(vocab), read_merges(model.value("merges", json())), std::move(options));
    for (const json& t : spec.value("added_tokens", json::array())) {
      AddedToken a;
      a.id = t.at("id").get<TokenId>();
      a.content = t.at("content").get<std::string>();
      a.special = t.value("special", false);
      a.lstrip = t.value("lstrip", false);
      a.rstrip = t.value("rstrip", false);
      a.single_word = t.value("single_word", false);
      a.normalized = t.value("normalized", !a.special);
      p.added.push_back(std::move(a));
    }
    read_post_processor(spec.value("post_processor", json()), p.specials);
    auto tok = std::make_unique<BpeTokenizer>(std::move(p));
    TokenLookup lookup = [&](std::string_view s) { return tok->token_to_id(s); };
    read_hf_special_tokens(config_dir, lookup, tok->mutable_special_tokens());
    add_end_of_turn_tokens(lookup, tok->mutable_special_tokens());
    tok->mutable_chat_template() = read_hf_chat_template(config_dir);
    return tok;
  } catch (const json::exception& e) {
    throw InputError(path.string() + ": " + e.what());
  } catch (const InputError&) {
    rethrow_with_context(path.string());
  }
}

}  // namespace tailor::data
