// Splits a template into text and tag tokens, applying Jinja2's whitespace control the way transformers
// configures it (trim_blocks and lstrip_blocks on, `-` strips, `+` keeps).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace tailor::data::jinja {

struct Token {
  enum class Kind { Text, VarBegin, VarEnd, BlockBegin, BlockEnd, Name, String, Int, Float, Op, End };
  Kind kind;
  std::string text;  // the literal's value (strings unescaped), the name, the operator, or raw text
  int line;
};

struct LexOptions {
  bool trim_blocks = true;
  bool lstrip_blocks = true;
};

// Throws InputError "line N: ..." on unterminated tags, strings or comments.
std::vector<Token> lex(std::string_view source, const LexOptions& options = {});

}  // namespace tailor::data::jinja
