// What a dataset line becomes before tokenization: a conversation, a prompt/completion pair, or a text
// document, whichever source shape (OpenAI, ShareGPT, Alpaca, ...) it was written in.
#pragma once

#include <string>
#include <vector>

namespace tailor::data {

// The shapes a source file may hold. Auto: decided from the first record's fields.
enum class SourceFormat { Auto, Messages, ShareGpt, Alpaca, Completion, Text };

const char* format_name(SourceFormat format);

struct Message {
  std::string role;  // system | user | assistant | tool (ShareGPT's human/gpt are mapped to these)
  std::string content;
};

struct Record {
  enum class Kind { Chat, Completion, Text };
  Kind kind = Kind::Text;
  std::vector<Message> messages;  // Chat
  std::string prompt, completion;  // Completion
  std::string text;                // Text
};

}  // namespace tailor::data
