// A model's chat template, rendered exactly as transformers' apply_chat_template renders it.
//
// Everything the caller passes (messages, tools, extra variables) is data: the rendered text records
// which characters came from it, so tokenization can keep special-token strings written by users from
// becoming special tokens and masks can find each message's characters (see data/chat_mask.h).
#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "data/jinja/template.h"

namespace tailor::data {

class Tokenizer;

struct ChatOptions {
  bool add_generation_prompt = false;
  // Further template variables: tools, documents, enable_thinking, date_string, ... (all treated as data).
  nlohmann::ordered_json extra = nlohmann::ordered_json::object();
};

// The special-token strings templates read as variables (bos_token, eos_token, ...). Trusted: they are
// the tokenizer's own tokens, so they stay special when the rendered text is tokenized.
struct TemplateTokens {
  std::string bos_token, eos_token, unk_token, pad_token;
};

struct RenderedChat {
  std::string text;
  std::vector<jinja::DataSpan> data_spans;                // label: message index, or -1 for other data
  std::vector<std::pair<size_t, size_t>> generation_spans;  // {% generation %} blocks, [begin, end)
};

class ChatTemplate {
 public:
  // Throws InputError naming the template line for syntax errors and unsupported constructs.
  ChatTemplate(std::string_view source, TemplateTokens tokens = {}, jinja::Limits limits = {});
  // The tokenizer's own template (tokenizer_config.json, chat_template.jinja or GGUF), or `source` when
  // given, with the tokenizer's special tokens as bos_token/eos_token/unk_token/pad_token.
  static ChatTemplate for_tokenizer(const Tokenizer& tokenizer, std::string_view source = {});

  // messages: a JSON array of {"role": ..., "content": ..., ...}. Like transformers, keys whose value is
  // null are dropped and reasoning given as reasoning_content/thinking/reasoning is offered under
  // `thinking` and `reasoning_content`. Throws InputError for malformed messages and template errors
  // (raise_exception, undefined access), prefixed with "chat template".
  std::string render(const nlohmann::ordered_json& messages, const ChatOptions& options = {}) const;
  RenderedChat render_tracked(const nlohmann::ordered_json& messages, const ChatOptions& options = {}) const;

  bool has_generation_blocks() const { return template_->has_generation_blocks(); }

 private:
  std::shared_ptr<const jinja::Template> template_;
  TemplateTokens tokens_;
  jinja::Limits limits_;
};

}  // namespace tailor::data
