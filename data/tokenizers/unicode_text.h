// UTF-8 and Unicode helpers the tokenizers share: validation, code point iteration, the White_Space
// property (what HF tokenizers' Rust code calls whitespace), and ICU normalization forms.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tailor::data::text {

// Length of the valid UTF-8 sequence starting at s[i], or 0 if the bytes there are not valid UTF-8
// (overlongs, surrogates and code points above U+10FFFF are invalid).
size_t valid_utf8_length(std::string_view s, size_t i);
// Offset of the first invalid byte, or s.size() when the whole string is valid UTF-8.
size_t first_invalid_utf8(std::string_view s);

// Decodes the (valid) code point at s[i] and advances i.
char32_t next_code_point(std::string_view s, size_t& i);
void append_utf8(std::string& out, char32_t cp);

// Unicode White_Space (Rust char::is_whitespace, Oniguruma's \s).
bool is_white_space(char32_t cp);
// Unicode general category N (Rust char::is_numeric).
bool is_numeric(char32_t cp);
// Rust regex \w: alphabetic, marks, decimal digits, connector punctuation, join controls.
bool is_word_char(char32_t cp);

enum class NormalForm { NFC, NFD, NFKC, NFKD };
// Normalizes valid UTF-8 text; returns false and leaves `out` untouched when it is already normalized.
bool normalize(std::string_view in, NormalForm form, std::string& out);
std::string to_lower(std::string_view in);

// The lines of `text` split at '\n' (a '\r' stays in its line; no empty line after a final '\n').
std::vector<std::string_view> split_lines(std::string_view text);

}  // namespace tailor::data::text
