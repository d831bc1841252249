// The one tokenizer interface every consumer uses (data pipeline, chat masks, generation, export).
// Implementations: byte-level BPE and byte-fallback BPE from tokenizer.json, SentencePiece .model files,
// and vocabularies stored in GGUF metadata.
//
// Special tokens are never parsed out of user text: encode() treats "<|im_end|>" in its input as plain
// text. Special tokens enter only by id (e.g. from the chat template renderer) or through the explicit
// encode_with_special() option.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tailor::data {

using TokenId = int32_t;

struct SpecialTokens {
  std::optional<TokenId> bos, eos, pad, unk;
  std::vector<TokenId> eos_ids;  // every id that ends generation (eos plus e.g. <|im_end|>, <|eot_id|>)
  bool add_bos = false;          // the model expects BOS at the start of every sequence
  bool add_eos = false;
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // path: an HF model folder, a folder holding only tokenizer files, a tokenizer.json, a SentencePiece
  // .model, or a .gguf file. Throws InputError naming the file and the problem.
  static std::unique_ptr<Tokenizer> load(const std::filesystem::path& path);

  // Plain text to ids. No BOS/EOS are added and special-token strings are ordinary text.
  // Invalid UTF-8: byte-fallback tokens where the vocabulary has them, otherwise InputError.
  virtual std::vector<TokenId> encode(std::string_view text) const = 0;
  // The explicit opposite: added/special tokens written in the text are matched as tokens.
  virtual std::vector<TokenId> encode_with_special(std::string_view text) const = 0;
  // encode() for text that continues a longer input instead of starting it, as HF tokenizes the text
  // after an added token: what depends on the start of the input (Metaspace prepend_scheme "first")
  // does not apply. The chat masker encodes a rendered conversation piece by piece with it.
  virtual std::vector<TokenId> encode_continuation(std::string_view text) const { return encode(text); }
  // ids to text; skip_special drops special (control) tokens.
  virtual std::string decode(std::span<const TokenId> ids, bool skip_special = false) const = 0;

  virtual size_t vocab_size() const = 0;  // including added tokens
  virtual std::optional<TokenId> token_to_id(std::string_view token) const = 0;
  virtual std::string id_to_token(TokenId id) const = 0;  // the vocabulary's spelling of the token
  virtual bool is_special(TokenId id) const = 0;
  // Whitespace an added token absorbs when matched in text (tokenizer.json lstrip / rstrip): HF drops
  // the whitespace run before (left) or after (right) the token instead of encoding it.
  struct WhitespaceStrip {
    bool left = false, right = false;
  };
  virtual WhitespaceStrip added_token_strip(TokenId) const { return {}; }

  virtual const SpecialTokens& special_tokens() const = 0;
  // The model's chat template (tokenizer_config.json, chat_template.jinja or GGUF), empty if none.
  virtual const std::string& chat_template() const = 0;
};

// Encodes many texts on `threads` worker threads (0: one per hardware thread); results in input order.
// encode() is thread-safe: each thread keeps its own cache of merged words.
std::vector<std::vector<TokenId>> encode_batch(const Tokenizer& tokenizer, std::span<const std::string_view> texts,
                                               unsigned threads = 0, bool with_special = false);

}  // namespace tailor::data
