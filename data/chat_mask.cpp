#include "data/chat_mask.h"

#include <algorithm>

#include "core/error.h"
#include "data/tokenizers/added_tokens.h"

namespace tailor::data {

using json = nlohmann::ordered_json;

ChatMasker::ChatMasker(const ChatTemplate& chat_template, const Tokenizer& tokenizer)
    : template_(chat_template), tokenizer_(tokenizer) {
  for (size_t id = 0; id < tokenizer.vocab_size(); ++id) {
    auto token = static_cast<TokenId>(id);
    if (!tokenizer.is_special(token)) continue;
    std::string spelling = tokenizer.id_to_token(token);
    if (!spelling.empty()) specials_.push_back({std::move(spelling), token, tokenizer.added_token_strip(token)});
  }
  std::stable_sort(specials_.begin(), specials_.end(),
                   [](const Special& a, const Special& b) { return a.spelling.size() > b.spelling.size(); });
}

// Special-token strings in template text become special pieces; a match that overlaps any data
// character is ordinary text (the injection case).
std::vector<ChatMasker::Piece> ChatMasker::split(const RenderedChat& rendered) const {
  const std::string& text = rendered.text;
  std::vector<Piece> pieces;
  size_t plain_start = 0, span = 0;
  for (size_t pos = 0; pos < text.size();) {
    while (span < rendered.data_spans.size() && rendered.data_spans[span].end <= pos) ++span;
    const Special* match = nullptr;
    for (const Special& special : specials_)
      if (text.compare(pos, special.spelling.size(), special.spelling) == 0) {
        match = &special;
        break;
      }
    if (match) {
      size_t end = pos + match->spelling.size();
      bool overlaps_data = span < rendered.data_spans.size() && rendered.data_spans[span].begin < end;
      if (!overlaps_data) {
        size_t begin = match->strip.left ? lstrip_start(text, pos, plain_start) : pos;
        if (match->strip.right) end = rstrip_stop(text, end);
        if (plain_start < begin) pieces.push_back({plain_start, begin, std::nullopt});
        pieces.push_back({begin, end, match->id});
        pos = plain_start = end;
        continue;
      }
    }
    ++pos;
  }
  if (plain_start < text.size()) pieces.push_back({plain_start, text.size(), std::nullopt});
  return pieces;
}

std::vector<TokenId> ChatMasker::encode_pieces(const std::string& text, std::vector<Piece>& pieces) const {
  std::vector<TokenId> ids;
  for (Piece& piece : pieces) {
    piece.first_id = ids.size();
    if (piece.special) {
      ids.push_back(*piece.special);
    } else {
      std::string_view plain = std::string_view(text).substr(piece.begin, piece.end - piece.begin);
      std::vector<TokenId> chunk = piece.begin == 0 ? tokenizer_.encode(plain) : tokenizer_.encode_continuation(plain);
      ids.insert(ids.end(), chunk.begin(), chunk.end());
    }
    piece.ids = ids.size() - piece.first_id;
  }
  return ids;
}

std::vector<TokenId> ChatMasker::encode(const RenderedChat& rendered) const {
  std::vector<Piece> pieces = split(rendered);
  return encode_pieces(rendered.text, pieces);
}

// The token covering character `offset`: exact for special pieces; inside plain text, the first token
// whose decoded prefix of the piece reaches past `offset` (binary search over prefix decodes). Decoders
// that drop the space a Metaspace pre-tokenizer turned into the first token's "▁" decode the piece
// without its first character(s); those count as covered by the first token.
size_t ChatMasker::token_at(const std::string& text, const std::vector<Piece>& pieces, const std::vector<TokenId>& ids,
                            size_t offset) const {
  auto it = std::upper_bound(pieces.begin(), pieces.end(), offset, [](size_t o, const Piece& p) { return o < p.end; });
  if (it == pieces.end()) return ids.size() - 1;
  const Piece& piece = *it;
  if (piece.ids == 0) return piece.first_id;
  if (piece.special) return piece.first_id;
  std::string_view piece_text = std::string_view(text).substr(piece.begin, piece.end - piece.begin);
  size_t relative = offset - piece.begin;
  auto decode = [&](size_t count) { return tokenizer_.decode(std::span<const TokenId>(ids.data() + piece.first_id, count)); };
  std::string whole = decode(piece.ids);
  size_t dropped = whole.size() < piece_text.size() && piece_text.ends_with(whole) ? piece_text.size() - whole.size() : 0;
  std::string_view decodable = piece_text.substr(dropped);
  auto covered = [&](size_t count) {
    std::string decoded = decode(count);
    size_t n = 0;
    while (n < decoded.size() && n < decodable.size() && decoded[n] == decodable[n]) ++n;
    return dropped + n;
  };
  size_t lo = 1, hi = piece.ids;  // smallest count whose decode covers relative
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (covered(mid) > relative) hi = mid;
    else lo = mid + 1;
  }
  return piece.first_id + lo - 1;
}

std::vector<std::pair<size_t, size_t>> ChatMasker::assistant_spans(const json& messages, const RenderedChat& rendered,
                                                                  const std::vector<Piece>& pieces, const ChatOptions& options) const {
  std::vector<std::pair<size_t, size_t>> spans;
  for (size_t i = 0; i < messages.size(); ++i) {
    if (!messages[i].is_object() || messages[i].value("role", "") != "assistant") continue;
    size_t first = std::string::npos, last = 0;
    for (const auto& span : rendered.data_spans)
      if (span.label == static_cast<int>(i)) {
        first = std::min(first, span.begin);
        last = std::max(last, span.end);
      }
    // Where generation would start: the end of the conversation so far plus the generation prompt.
    size_t start = first;
    try {
      ChatOptions prefix_options = options;
      prefix_options.add_generation_prompt = true;
      json head = json::array();
      for (size_t k = 0; k < i; ++k) head.push_back(messages[k]);
      std::string prefix = template_.render(head, prefix_options);
      if (rendered.text.compare(0, prefix.size(), prefix) == 0 && prefix.size() <= first) start = prefix.size();
    } catch (const InputError&) {
      // Templates may reject a partial conversation (e.g. one ending in a system message); fall back.
    }
    if (start == std::string::npos) continue;  // the template did not render this message
    size_t content_end = first == std::string::npos ? start : last;
    size_t end = content_end;
    for (const Piece& piece : pieces)
      if (piece.special && piece.begin >= content_end) {
        end = piece.end;
        break;
      }
    if (end > start) spans.emplace_back(start, end);
  }
  return spans;
}

MaskedChat ChatMasker::build(const json& messages, MaskMode mode, const ChatOptions& options) const {
  RenderedChat rendered = template_.render_tracked(messages, options);
  std::vector<Piece> pieces = split(rendered);
  MaskedChat out;
  out.ids = encode_pieces(rendered.text, pieces);
  out.trained.assign(out.ids.size(), mode == MaskMode::All ? 1 : 0);
  if (mode != MaskMode::All) {
    out.trained_spans = template_.has_generation_blocks() ? rendered.generation_spans
                                                          : assistant_spans(messages, rendered, pieces, options);
    out.trained_spans.erase(std::remove_if(out.trained_spans.begin(), out.trained_spans.end(), [](auto s) { return s.first >= s.second; }),
                            out.trained_spans.end());
    if (mode == MaskMode::LastTurn && out.trained_spans.size() > 1) out.trained_spans.erase(out.trained_spans.begin(), out.trained_spans.end() - 1);
    // transformers' rule: from the token holding the first character to the one holding the last.
    for (auto [begin, end] : out.trained_spans) {
      if (out.ids.empty()) break;
      size_t first = token_at(rendered.text, pieces, out.ids, begin), last = token_at(rendered.text, pieces, out.ids, end - 1);
      for (size_t t = first; t <= last && t < out.trained.size(); ++t) out.trained[t] = 1;
    }
  } else if (!rendered.text.empty()) {
    out.trained_spans.emplace_back(0, rendered.text.size());
  }
  out.text = std::move(rendered.text);
  return out;
}

namespace {

class TemplateChatEncoder : public ChatEncoder {
 public:
  TemplateChatEncoder(ChatTemplate chat_template, const Tokenizer& tokenizer)
      : template_(std::make_unique<ChatTemplate>(std::move(chat_template))), masker_(*template_, tokenizer) {}

  Sample encode(const std::vector<Message>& messages, MaskMode mode) const override {
    json conversation = json::array();
    for (const Message& m : messages) conversation.push_back({{"role", m.role}, {"content", m.content}});
    MaskedChat masked = masker_.build(conversation, mode);
    return Sample{std::move(masked.ids), std::move(masked.trained)};
  }

 private:
  std::unique_ptr<ChatTemplate> template_;
  ChatMasker masker_;
};

}  // namespace

std::unique_ptr<ChatEncoder> chat_encoder_for(const Tokenizer& tokenizer, const std::string& template_source) {
  ChatTemplate chat_template = ChatTemplate::for_tokenizer(tokenizer, template_source);
  return std::make_unique<TemplateChatEncoder>(std::move(chat_template), tokenizer);
}

}  // namespace tailor::data
