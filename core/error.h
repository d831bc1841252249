// Error kinds the CLI maps to exit codes: bad input (a file, recipe, flag the user gave) exits 2 with one
// line naming what and where; anything else is an internal fault and exits 1.
#pragma once

#include <stdexcept>
#include <string>

namespace tailor {

// Something the user supplied is wrong. The message names the file, key, line or tensor, and what was
// expected, e.g. "model.safetensors: tensor 'lm_head.weight': shape [10, 4], expected [12, 4]".
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Prefixes an InputError's message with where it happened (a file name, a recipe key) while rethrowing.
[[noreturn]] void rethrow_with_context(const std::string& context);

}  // namespace tailor
