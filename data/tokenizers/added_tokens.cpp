#include "data/tokenizers/added_tokens.h"

#include <algorithm>

#include "data/tokenizers/unicode_text.h"

namespace tailor::data {
namespace {

// The code point ending just before `end` (valid UTF-8 assumed).
char32_t code_point_before(std::string_view s, size_t end, size_t* start_out = nullptr) {
  size_t start = end - 1;
  while (start > 0 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
  if (start_out) *start_out = start;
  size_t i = start;
  return text::next_code_point(s, i);
}

}  // namespace

size_t lstrip_start(std::string_view text, size_t start, size_t floor) {
  while (start > floor) {
    size_t prev;
    if (!text::is_white_space(code_point_before(text, start, &prev))) break;
    start = prev;
  }
  return start;
}

size_t rstrip_stop(std::string_view text, size_t stop) {
  while (stop < text.size()) {
    size_t k = stop;
    if (!text::is_white_space(text::next_code_point(text, k))) break;
    stop = k;
  }
  return stop;
}

AddedTokenMatcher::AddedTokenMatcher(std::vector<const AddedToken*> tokens) : tokens_(std::move(tokens)) {
  for (const AddedToken* t : tokens_)
    if (!t->content.empty()) by_first_byte_[static_cast<unsigned char>(t->content[0])].push_back(t);
  for (auto& bucket : by_first_byte_)
    std::stable_sort(bucket.begin(), bucket.end(),
                     [](const AddedToken* a, const AddedToken* b) { return a->content.size() > b->content.size(); });
}

void AddedTokenMatcher::split(std::string_view text, bool match_special, std::vector<Span>& out) const {
  size_t emitted = 0;  // end of the last added-token span
  size_t i = 0;
  while (i < text.size()) {
    const auto& bucket = by_first_byte_[static_cast<unsigned char>(text[i])];
    const AddedToken* hit = nullptr;
    for (const AddedToken* t : bucket)
      if (text.substr(i).starts_with(t->content)) {
        hit = t;
        break;
      }
    if (!hit) {
      ++i;
      continue;
    }
    size_t start = i, stop = i + hit->content.size();
    i = stop;  // a discarded match is still consumed, as in HF's non-overlapping search
    if (hit->special && !match_special) continue;
    if (hit->single_word) {
      bool start_ok = start == 0 || !text::is_word_char(code_point_before(text, start));
      size_t k = stop;
      bool stop_ok = stop == text.size() || !text::is_word_char(text::next_code_point(text, k));
      if (!start_ok || !stop_ok) continue;
    }
    if (hit->lstrip) start = lstrip_start(text, start, emitted);
    if (hit->rstrip) stop = rstrip_stop(text, stop);
    if (start > emitted) out.push_back({emitted, start, std::nullopt});
    out.push_back({start, stop, hit->id});
    emitted = stop;
    i = stop;
  }
  if (emitted < text.size() || text.empty()) out.push_back({emitted, text.size(), std::nullopt});
}

}  // namespace tailor::data
