// Added tokens (special and user-defined) found in text the way HF tokenizers does: leftmost-longest
// matching, with the lstrip / rstrip / single_word options. Special tokens are matched only when the
// caller asks for it (encode_with_special); otherwise their text stays ordinary text.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "data/tokenizer.h"

namespace tailor::data {

struct AddedToken {
  TokenId id = 0;
  std::string content;
  bool special = false, lstrip = false, rstrip = false, single_word = false, normalized = false;
};

// HF's lstrip / rstrip: where a token matched at [start, stop) extends to when it absorbs the whitespace
// before it (not reaching back past `floor`) or after it.
size_t lstrip_start(std::string_view text, size_t start, size_t floor);
size_t rstrip_stop(std::string_view text, size_t stop);

class AddedTokenMatcher {
 public:
  AddedTokenMatcher() = default;
  explicit AddedTokenMatcher(std::vector<const AddedToken*> tokens);

  struct Span {
    size_t begin, end;
    std::optional<TokenId> id;  // set for an added token, empty for ordinary text
  };
  // Splits `text` into ordinary spans and added-token spans, covering it entirely.
  void split(std::string_view text, bool match_special, std::vector<Span>& out) const;
  bool empty() const { return tokens_.empty(); }

 private:
  std::vector<const AddedToken*> tokens_;
  std::array<std::vector<const AddedToken*>, 256> by_first_byte_;  // longest first
};

}  // namespace tailor::data
