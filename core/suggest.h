// "Did you mean …?" for unknown keys in recipes and configs.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace tailor {

// The candidate closest to `word` by edit distance, or "" when none is plausibly meant.
std::string nearest_word(std::string_view word, const std::vector<std::string>& candidates);

// "unknown key 'lr_rate'" + " (did you mean 'lr'?)" when a near candidate exists.
std::string unknown_key_message(std::string_view key, const std::vector<std::string>& candidates);

}  // namespace tailor
