#include "data/jinja/lexer.h"

#include <cctype>

#include "core/error.h"

namespace tailor::data::jinja {
namespace {

[[noreturn]] void fail(int line, const std::string& what) {
  throw InputError("line " + std::to_string(line) + ": " + what);
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

class Lexer {
 public:
  Lexer(std::string_view src, const LexOptions& opt) : src_(src), opt_(opt) {}

  std::vector<Token> run() {
    // Jinja2 drops a single trailing newline of the template (keep_trailing_newline=False).
    if (!src_.empty() && src_.back() == '\n') src_.remove_suffix(1);
    size_t pos = 0;
    while (pos < src_.size()) {
      size_t open = find_open(pos);
      std::string text(src_.substr(pos, open - pos));
      if (open == src_.size()) {
        emit_text(std::move(text), pos);
        break;
      }
      char kind = src_[open + 1];
      size_t inner = open + 2;
      char modifier = inner < src_.size() ? src_[inner] : 0;
      if (modifier == '-') {
        while (!text.empty() && is_space(text.back())) text.pop_back();
        ++inner;
      } else if (modifier == '+' && kind != '{') {
        ++inner;
      } else if (opt_.lstrip_blocks && kind != '{') {
        lstrip_line(text, pos);
      }
      emit_text(std::move(text), pos);
      line_ = line_at(open);
      if (kind == '#') {
        size_t close = src_.find("#}", inner);
        if (close == std::string_view::npos) fail(line_, "unterminated comment");
        bool strip = close > inner && src_[close - 1] == '-';
        pos = after_tag(close + 2, strip, true, close > inner && src_[close - 1] == '+');
        continue;
      }
      bool block = kind == '%';
      tokens_.push_back({block ? Token::Kind::BlockBegin : Token::Kind::VarBegin, "", line_});
      size_t first_token = tokens_.size();
      pos = lex_tag(inner, block);
      if (block && tokens_.size() == first_token + 2 && tokens_[first_token].text == "raw" &&
          tokens_[first_token].kind == Token::Kind::Name) {
        tokens_.resize(first_token - 1);
        pos = lex_raw(pos);
      }
    }
    tokens_.push_back({Token::Kind::End, "", line_at(src_.size())});
    return std::move(tokens_);
  }

 private:
  int line_at(size_t offset) {
    for (; line_pos_ < offset && line_pos_ < src_.size(); ++line_pos_)
      if (src_[line_pos_] == '\n') ++line_count_;
    return line_count_;
  }

  size_t find_open(size_t pos) const {
    for (size_t i = pos; i + 1 < src_.size(); ++i)
      if (src_[i] == '{' && (src_[i + 1] == '{' || src_[i + 1] == '%' || src_[i + 1] == '#')) return i;
    return src_.size();
  }

  // lstrip_blocks: spaces and tabs between the start of the line and a block tag go.
  void lstrip_line(std::string& text, size_t text_start) const {
    size_t nl = text.rfind('\n');
    size_t line_start = nl == std::string::npos ? 0 : nl + 1;
    bool at_line_start = nl != std::string::npos || text_start == 0 || src_[text_start - 1] == '\n';
    if (!at_line_start) return;
    for (size_t i = line_start; i < text.size(); ++i)
      if (text[i] != ' ' && text[i] != '\t') return;
    text.resize(line_start);
  }

  void emit_text(std::string text, size_t at) {
    if (!text.empty()) tokens_.push_back({Token::Kind::Text, std::move(text), line_at(at)});
  }

  // Past a closing delimiter: `-` eats all following whitespace; trim_blocks eats one newline after
  // block tags and comments unless the tag ended with `+`.
  size_t after_tag(size_t pos, bool strip, bool is_block, bool keep) const {
    if (strip) {
      while (pos < src_.size() && is_space(src_[pos])) ++pos;
    } else if (is_block && opt_.trim_blocks && !keep) {
      if (pos < src_.size() && src_[pos] == '\n') ++pos;
      else if (pos + 1 < src_.size() && src_[pos] == '\r' && src_[pos + 1] == '\n') pos += 2;
    }
    return pos;
  }

  size_t lex_tag(size_t pos, bool block) {
    int depth = 0;  // brackets open inside the tag, so `}}` of a dict literal does not end it
    const char close = block ? '%' : '}';
    while (true) {
      while (pos < src_.size() && is_space(src_[pos])) {
        if (src_[pos] == '\n') ++line_;
        ++pos;
      }
      if (pos >= src_.size()) fail(line_, block ? "unterminated block tag '{%'" : "unterminated expression '{{'");
      char c = src_[pos];
      if (depth == 0 && (c == '-' || c == '+') && pos + 2 < src_.size() + 0 && src_[pos + 1] == close && src_[pos + 2] == '}') {
        tokens_.push_back({block ? Token::Kind::BlockEnd : Token::Kind::VarEnd, "", line_});
        return after_tag(pos + 3, c == '-', block, c == '+');
      }
      if (depth == 0 && c == close && pos + 1 < src_.size() && src_[pos + 1] == '}') {
        tokens_.push_back({block ? Token::Kind::BlockEnd : Token::Kind::VarEnd, "", line_});
        return after_tag(pos + 2, false, block, false);
      }
      if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
        size_t start = pos;
        while (pos < src_.size() && (std::isalnum(static_cast<unsigned char>(src_[pos])) || src_[pos] == '_')) ++pos;
        tokens_.push_back({Token::Kind::Name, std::string(src_.substr(start, pos - start)), line_});
      } else if (std::isdigit(static_cast<unsigned char>(c))) {
        pos = lex_number(pos);
      } else if (c == '\'' || c == '"') {
        pos = lex_string(pos);
      } else {
        static const char* two[] = {"**", "//", "==", "!=", "<=", ">="};
        std::string op(1, c);
        for (const char* t : two)
          if (src_.substr(pos, 2) == t) op = t;
        if (op.size() == 1 && std::string_view("+-*/%~<>=.,:|()[]{}!").find(c) == std::string_view::npos)
          fail(line_, std::string("unexpected character '") + c + "' in tag");
        if (op == "(" || op == "[" || op == "{") ++depth;
        if (op == ")" || op == "]" || op == "}") --depth;
        tokens_.push_back({Token::Kind::Op, op, line_});
        pos += op.size();
      }
    }
  }

  size_t lex_number(size_t pos) {
    size_t start = pos;
    bool is_float = false;
    auto digits = [&] {
      while (pos < src_.size() && (std::isdigit(static_cast<unsigned char>(src_[pos])) || src_[pos] == '_')) ++pos;
    };
    digits();
    if (pos + 1 < src_.size() && src_[pos] == '.' && std::isdigit(static_cast<unsigned char>(src_[pos + 1]))) {
      is_float = true;
      ++pos;
      digits();
    }
    if (pos < src_.size() && (src_[pos] == 'e' || src_[pos] == 'E')) {
      size_t save = pos++;
      if (pos < src_.size() && (src_[pos] == '+' || src_[pos] == '-')) ++pos;
      if (pos < src_.size() && std::isdigit(static_cast<unsigned char>(src_[pos]))) {
        is_float = true;
        digits();
      } else {
        pos = save;
      }
    }
    std::string text;
    for (char ch : src_.substr(start, pos - start))
      if (ch != '_') text += ch;
    tokens_.push_back({is_float ? Token::Kind::Float : Token::Kind::Int, text, line_});
    return pos;
  }

  size_t lex_string(size_t pos) {
    char quote = src_[pos++];
    std::string value;
    while (true) {
      if (pos >= src_.size()) fail(line_, "unterminated string literal");
      char c = src_[pos++];
      if (c == quote) break;
      if (c == '\n') ++line_;
      if (c != '\\') {
        value += c;
        continue;
      }
      if (pos >= src_.size()) fail(line_, "unterminated string literal");
      char e = src_[pos++];
      switch (e) {
        case 'n': value += '\n'; break;
        case 't': value += '\t'; break;
        case 'r': value += '\r'; break;
        case 'b': value += '\b'; break;
        case 'f': value += '\f'; break;
        case 'v': value += '\v'; break;
        case 'a': value += '\a'; break;
        case '0': value += '\0'; break;
        case '\\': value += '\\'; break;
        case '\'': value += '\''; break;
        case '"': value += '"'; break;
        case '\n': ++line_; break;
        case 'x':
        case 'u':
        case 'U': {
          size_t n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
          if (pos + n > src_.size()) fail(line_, "truncated \\" + std::string(1, e) + " escape");
          uint32_t cp = 0;
          for (size_t k = 0; k < n; ++k) {
            char h = src_[pos + k];
            if (!std::isxdigit(static_cast<unsigned char>(h))) fail(line_, "bad \\" + std::string(1, e) + " escape");
            cp = cp * 16 + static_cast<uint32_t>(std::isdigit(static_cast<unsigned char>(h)) ? h - '0' : (std::tolower(h) - 'a' + 10));
          }
          pos += n;
          append_utf8(value, cp);
          break;
        }
        default:  // Python keeps unknown escapes as written
          value += '\\';
          value += e;
      }
    }
    tokens_.push_back({Token::Kind::String, value, line_});
    return pos;
  }

  // {% raw %}...{% endraw %}: the text in between is output as is.
  size_t lex_raw(size_t pos) {
    for (size_t search = pos;;) {
      size_t open = src_.find("{%", search);
      if (open == std::string_view::npos) fail(line_, "unterminated {% raw %} block");
      size_t p = open + 2;
      bool strip_before = p < src_.size() && src_[p] == '-';
      if (strip_before || (p < src_.size() && src_[p] == '+')) ++p;
      while (p < src_.size() && is_space(src_[p])) ++p;
      if (src_.substr(p, 6) != "endraw") {
        search = open + 2;
        continue;
      }
      p += 6;
      while (p < src_.size() && is_space(src_[p])) ++p;
      bool strip_after = p < src_.size() && src_[p] == '-';
      if (strip_after || (p < src_.size() && src_[p] == '+')) ++p;
      if (src_.substr(p, 2) != "%}") fail(line_, "malformed {% endraw %}");
      std::string text(src_.substr(pos, open - pos));
      if (strip_before)
        while (!text.empty() && is_space(text.back())) text.pop_back();
      else if (opt_.lstrip_blocks)
        lstrip_line(text, pos);
      emit_text(std::move(text), pos);
      return after_tag(p + 2, strip_after, true, false);
    }
  }

  std::string_view src_;
  LexOptions opt_;
  std::vector<Token> tokens_;
  int line_ = 1;
  size_t line_pos_ = 0;
  int line_count_ = 1;
};

}  // namespace

std::vector<Token> lex(std::string_view source, const LexOptions& options) { return Lexer(source, options).run(); }

}  // namespace tailor::data::jinja
