#include "data/template_chat_encoder.h"

#include <fstream>
#include <sstream>

#include "core/error.h"
#include "data/chat_mask.h"

namespace tailor::data {

std::string chat_template_source(const Tokenizer& tokenizer, const std::optional<std::filesystem::path>& template_file) {
  if (!template_file) return tokenizer.chat_template();
  std::ifstream in(*template_file, std::ios::binary);
  if (!in) throw InputError(template_file->string() + ": cannot read the chat template");
  std::stringstream source;
  source << in.rdbuf();
  return source.str();
}

std::unique_ptr<ChatEncoder> template_chat_encoder(const Tokenizer& tokenizer,
                                                   const std::optional<std::filesystem::path>& template_file) {
  std::string source = chat_template_source(tokenizer, template_file);
  if (source.empty()) return nullptr;
  try {
    return chat_encoder_for(tokenizer, source);
  } catch (const InputError&) {
    if (!template_file) throw;
    rethrow_with_context(template_file->string());
  }
}

}  // namespace tailor::data
