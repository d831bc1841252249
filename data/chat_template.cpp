#include "data/chat_template.h"

#include "core/error.h"
#include "data/tokenizer.h"

namespace tailor::data {
namespace {

using json = nlohmann::ordered_json;

// transformers' _normalize_chat_messages and _alias_reasoning_fields.
json normalize_messages(const json& messages) {
  if (!messages.is_array()) throw InputError("chat messages: expected a JSON array of message objects");
  json out = json::array();
  for (size_t i = 0; i < messages.size(); ++i) {
    const json& m = messages[i];
    if (!m.is_object()) throw InputError("chat messages[" + std::to_string(i) + "]: expected an object with role and content");
    json kept = json::object();
    for (auto it = m.begin(); it != m.end(); ++it)
      if (!it.value().is_null()) kept[it.key()] = it.value();
    const json* reasoning = nullptr;
    for (const char* key : {"reasoning_content", "thinking", "reasoning"})
      if (kept.contains(key)) {
        reasoning = &kept[key];
        break;
      }
    if (reasoning) {
      json aliased = json::object();
      aliased["thinking"] = *reasoning;
      for (auto it = kept.begin(); it != kept.end(); ++it) aliased[it.key()] = it.value();
      aliased["reasoning_content"] = *reasoning;
      kept = std::move(aliased);
    }
    out.push_back(std::move(kept));
  }
  return out;
}

jinja::Value token_value(const std::string& token) {
  return token.empty() ? jinja::Value::undefined() : jinja::Value::from(token);
}

}  // namespace

ChatTemplate::ChatTemplate(std::string_view source, TemplateTokens tokens, jinja::Limits limits)
    : tokens_(std::move(tokens)), limits_(limits) {
  try {
    template_ = std::make_shared<const jinja::Template>(source);
  } catch (const InputError& e) {
    throw InputError(std::string("chat template ") + e.what());
  }
}

ChatTemplate ChatTemplate::for_tokenizer(const Tokenizer& tokenizer, std::string_view source) {
  if (source.empty()) source = tokenizer.chat_template();
  if (source.empty()) throw InputError("the tokenizer has no chat template; give one explicitly (a .jinja file)");
  const SpecialTokens& special = tokenizer.special_tokens();
  auto spelling = [&](const std::optional<TokenId>& id) { return id ? tokenizer.id_to_token(*id) : std::string(); };
  return ChatTemplate(source, TemplateTokens{spelling(special.bos), spelling(special.eos), spelling(special.unk), spelling(special.pad)});
}

RenderedChat ChatTemplate::render_tracked(const json& messages, const ChatOptions& options) const {
  json normalized = normalize_messages(messages);
  jinja::Array message_values;
  for (size_t i = 0; i < normalized.size(); ++i) {
    jinja::Value m = jinja::from_json(normalized[i], static_cast<int>(i));
    // The role is data but not message content: it must not count as the message's own characters.
    if (const jinja::Value* role = m.object->find("role"); role && role->is_string())
      m.object->set("role", jinja::Value::from(jinja::Str::data(role->text(), -1)));
    message_values.push_back(std::move(m));
  }
  jinja::Variables vars;
  vars.emplace_back("bos_token", token_value(tokens_.bos_token));
  vars.emplace_back("eos_token", token_value(tokens_.eos_token));
  vars.emplace_back("unk_token", token_value(tokens_.unk_token));
  vars.emplace_back("pad_token", token_value(tokens_.pad_token));
  // Like transformers, caller variables override the tokenizer's tokens (but stay data).
  if (!options.extra.is_object()) throw InputError("chat template variables: expected a JSON object");
  for (auto it = options.extra.begin(); it != options.extra.end(); ++it) {
    if (it.key() == "messages" || it.key() == "add_generation_prompt")
      throw InputError("chat template variables: '" + it.key() + "' is set by the renderer");
    vars.emplace_back(it.key(), jinja::from_json(it.value(), -1));
  }
  // transformers always passes these two, as None when absent.
  for (const char* key : {"tools", "documents"})
    if (!options.extra.contains(key)) vars.emplace_back(key, jinja::Value::none());
  vars.emplace_back("messages", jinja::Value::from(std::move(message_values)));
  vars.emplace_back("add_generation_prompt", jinja::Value::from(options.add_generation_prompt));
  jinja::Rendered rendered;
  try {
    rendered = template_->render(vars, limits_);
  } catch (const InputError& e) {
    throw InputError(std::string("chat template ") + e.what());
  }
  return RenderedChat{std::move(rendered.text.text), std::move(rendered.text.spans), std::move(rendered.generation_spans)};
}

std::string ChatTemplate::render(const json& messages, const ChatOptions& options) const {
  return render_tracked(messages, options).text;
}

}  // namespace tailor::data
