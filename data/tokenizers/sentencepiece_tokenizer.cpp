#include "data/tokenizers/sentencepiece_tokenizer.h"

#include <sentencepiece_processor.h>

#include "core/error.h"
#include "data/tokenizers/added_tokens.h"
#include "data/tokenizers/hf_config.h"
#include "data/tokenizers/unicode_text.h"

namespace tailor::data {
namespace {

class SentencePieceTokenizer final : public Tokenizer {
 public:
  explicit SentencePieceTokenizer(const std::filesystem::path& path) {
    auto status = sp_.Load(path.string());
    if (!status.ok()) throw InputError(path.string() + ": not a SentencePiece model: " + status.ToString());
    std::vector<const AddedToken*> controls;
    for (int id = 0; id < sp_.GetPieceSize(); ++id)
      if (sp_.IsControl(id)) controls_.push_back({id, sp_.IdToPiece(id), true});
    for (const auto& c : controls_) controls.push_back(&c);
    matcher_ = AddedTokenMatcher(std::move(controls));
    auto id_or_none = [](int id) { return id >= 0 ? std::optional<TokenId>(id) : std::nullopt; };
    specials_.bos = id_or_none(sp_.bos_id());
    specials_.eos = id_or_none(sp_.eos_id());
    specials_.pad = id_or_none(sp_.pad_id());
    specials_.unk = id_or_none(sp_.unk_id());
    specials_.add_bos = specials_.bos.has_value();  // LlamaTokenizer's default
  }

  std::vector<TokenId> encode(std::string_view text) const override {
    std::vector<TokenId> out;
    encode_text(text, out);
    return out;
  }

  std::vector<TokenId> encode_with_special(std::string_view text) const override {
    std::vector<TokenId> out;
    std::vector<AddedTokenMatcher::Span> spans;
    matcher_.split(text, true, spans);
    for (const auto& s : spans) {
      if (s.id) out.push_back(*s.id);
      else encode_text(text.substr(s.begin, s.end - s.begin), out);
    }
    return out;
  }

  std::string decode(std::span<const TokenId> ids, bool skip_special) const override {
    std::string result;
    std::vector<int> chunk;
    auto flush = [&] {
      if (chunk.empty()) return;
      result += sp_.DecodeIds(chunk);
      chunk.clear();
    };
    for (TokenId id : ids) {
      if (id < 0 || id >= sp_.GetPieceSize())
        throw InputError("token id " + std::to_string(id) + " is not in the vocabulary (size " + std::to_string(sp_.GetPieceSize()) + ")");
      if (sp_.IsControl(id)) {
        flush();
        if (!skip_special) result += sp_.IdToPiece(id);
      } else {
        chunk.push_back(id);
      }
    }
    flush();
    return result;
  }

  size_t vocab_size() const override { return size_t(sp_.GetPieceSize()); }
  std::optional<TokenId> token_to_id(std::string_view token) const override {
    int id = sp_.PieceToId(token);
    if (sp_.IsUnknown(id) && sp_.IdToPiece(id) != token) return std::nullopt;
    return id;
  }
  std::string id_to_token(TokenId id) const override {
    if (id < 0 || id >= sp_.GetPieceSize())
      throw InputError("token id " + std::to_string(id) + " is not in the vocabulary (size " + std::to_string(sp_.GetPieceSize()) + ")");
    return sp_.IdToPiece(id);
  }
  bool is_special(TokenId id) const override { return id >= 0 && id < sp_.GetPieceSize() && sp_.IsControl(id); }
  const SpecialTokens& special_tokens() const override { return specials_; }
  const std::string& chat_template() const override { return chat_template_; }

  SpecialTokens specials_;
  std::string chat_template_;

 private:
  // SentencePiece needs valid UTF-8: invalid bytes become <0xXX> pieces when the model has them.
  void encode_text(std::string_view text, std::vector<TokenId>& out) const {
    size_t run = 0, i = text::first_invalid_utf8(text);
    while (i < text.size()) {
      if (size_t n = text::valid_utf8_length(text, i)) {
        i += n;
        continue;
      }
      if (i > run) encode_valid(text.substr(run, i - run), out);
      unsigned char b = static_cast<unsigned char>(text[i]);
      char piece[8];
      std::snprintf(piece, sizeof piece, "<0x%02X>", b);
      auto id = token_to_id(piece);
      if (!id || !sp_.IsByte(*id))
        throw InputError("invalid UTF-8 at byte offset " + std::to_string(i) + " and this SentencePiece model has no byte pieces");
      out.push_back(*id);
      run = ++i;
    }
    if (run < text.size()) encode_valid(text.substr(run), out);
  }

  void encode_valid(std::string_view text, std::vector<TokenId>& out) const {
    std::vector<int> ids;
    auto status = sp_.Encode(absl::string_view(text.data(), text.size()), &ids);
    if (!status.ok()) throw InputError("SentencePiece encode failed: " + status.ToString());
    out.insert(out.end(), ids.begin(), ids.end());
  }

  sentencepiece::SentencePieceProcessor sp_;
  std::vector<AddedToken> controls_;
  AddedTokenMatcher matcher_;
};

}  // namespace

std::unique_ptr<Tokenizer> load_sentencepiece(const std::filesystem::path& model, const std::filesystem::path& config_dir) {
  auto tok = std::make_unique<SentencePieceTokenizer>(model);
  TokenLookup lookup = [&](std::string_view s) { return tok->token_to_id(s); };
  read_hf_special_tokens(config_dir, lookup, tok->specials_);
  add_end_of_turn_tokens(lookup, tok->specials_);
  tok->chat_template_ = read_hf_chat_template(config_dir);
  return tok;
}

}  // namespace tailor::data
