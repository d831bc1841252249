// A pre-tokenizer regex compiled with PCRE2 (UTF + UCP, JIT where available). The patterns come from
// untrusted tokenizer files, so every match runs under a match limit and a bounded JIT stack: a
// catastrophically backtracking pattern fails with InputError instead of hanging (limits.md).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace tailor::data {

class SplitRegex {
 public:
  // `pattern` in Oniguruma syntax as written in tokenizer.json; \s and \S are rewritten to Unicode
  // White_Space (what Oniguruma matches; PCRE2's UCP \s differs at U+0085).
  explicit SplitRegex(const std::string& pattern);
  ~SplitRegex();
  SplitRegex(const SplitRegex&) = delete;
  SplitRegex& operator=(const SplitRegex&) = delete;

  struct Match {
    size_t begin, end;
  };
  // Every non-overlapping match in valid UTF-8 `text`, left to right (empty matches are skipped).
  void find_all(std::string_view text, std::vector<Match>& out) const;

  const std::string& pattern() const { return pattern_; }

 private:
  std::string pattern_;
  struct Compiled;
  std::unique_ptr<Compiled> compiled_;
};

// Escapes a literal string for use in a pattern.
std::string regex_escape(std::string_view literal);

}  // namespace tailor::data
