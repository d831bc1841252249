// Token ids and a per-token training mask for a conversation, derived from rendering its chat template.
//
// Injection safety: the rendered text is split at the special tokens the *template* wrote (with the
// whitespace their lstrip / rstrip flags absorb); the text between them (template text and message
// contents alike) is encoded with Tokenizer::encode() / encode_continuation(), which never parse special
// tokens. A user who writes "<|im_end|>" gets the plain-text tokens for it. When
// nobody wrote a special-token string, the ids equal transformers' apply_chat_template(tokenize=True).
//
// Trained spans: with {% generation %} blocks, the blocks (transformers' return_assistant_tokens_mask
// rule). Otherwise, for each assistant message, what the model would generate after the generation
// prompt: from the end of render(messages[:i], add_generation_prompt=True), when that is a prefix of the
// full render, else from the message's first character, through the end-of-turn special token that
// follows the message's last character. The spans come from one render of the whole conversation, so
// templates that rewrite earlier turns (Qwen3 dropping old reasoning) are masked as they are rendered.
#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "data/chat_template.h"
#include "data/pipeline/chat_encoder.h"
#include "data/pipeline/sample.h"
#include "data/tokenizer.h"

namespace tailor::data {

struct MaskedChat {
  std::string text;                                    // the rendered conversation
  std::vector<TokenId> ids;
  std::vector<uint8_t> trained;                        // 1: loss target; same length as ids
  std::vector<std::pair<size_t, size_t>> trained_spans;  // character spans of text the mask was built from
};

class ChatMasker {
 public:
  // The template and tokenizer must outlive the masker.
  ChatMasker(const ChatTemplate& chat_template, const Tokenizer& tokenizer);

  MaskedChat build(const nlohmann::ordered_json& messages, MaskMode mode, const ChatOptions& options = {}) const;

  // Injection-safe ids of a rendered conversation.
  std::vector<TokenId> encode(const RenderedChat& rendered) const;

 private:
  struct Piece {
    size_t begin, end;               // characters of the rendered text
    std::optional<TokenId> special;  // set: a special token written by the template
    size_t first_id = 0, ids = 0;    // its tokens in the id sequence
  };
  std::vector<Piece> split(const RenderedChat& rendered) const;
  std::vector<TokenId> encode_pieces(const std::string& text, std::vector<Piece>& pieces) const;
  size_t token_at(const std::string& text, const std::vector<Piece>& pieces, const std::vector<TokenId>& ids, size_t offset) const;
  std::vector<std::pair<size_t, size_t>> assistant_spans(const nlohmann::ordered_json& messages, const RenderedChat& rendered,
                                                         const std::vector<Piece>& pieces, const ChatOptions& options) const;

  const ChatTemplate& template_;
  const Tokenizer& tokenizer_;
  struct Special {
    std::string spelling;
    TokenId id;
    Tokenizer::WhitespaceStrip strip;
  };
  std::vector<Special> specials_;  // longest first
};

// The pipeline's ChatEncoder over a tokenizer's own template (or `template_source` when non-empty).
std::unique_ptr<ChatEncoder> chat_encoder_for(const Tokenizer& tokenizer, const std::string& template_source = "");

}  // namespace tailor::data
