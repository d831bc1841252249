#include "core/suggest.h"

#include <algorithm>
#include <numeric>

namespace tailor {
namespace {

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  std::iota(row.begin(), row.end(), 0);
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

}  // namespace

std::string nearest_word(std::string_view word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_distance = std::max<size_t>(2, word.size() / 3) + 1;  // farther than this is a guess
  for (const auto& c : candidates) {
    size_t d = edit_distance(word, c);
    bool prefix = c.starts_with(word) || word.starts_with(c);
    if (prefix) d = std::min(d, size_t(1));
    if (d < best_distance) best = c, best_distance = d;
  }
  return best;
}

std::string unknown_key_message(std::string_view key, const std::vector<std::string>& candidates) {
  std::string message = "unknown key '" + std::string(key) + "'";
  if (auto near = nearest_word(key, candidates); !near.empty()) message += " (did you mean '" + near + "'?)";
  return message;
}

}  // namespace tailor
