#include "core/error.h"

#include <exception>

namespace tailor {

void rethrow_with_context(const std::string& context) {
  try {
    throw;
  } catch (const InputError& e) {
    throw InputError(context + ": " + e.what());
  }
}

}  // namespace tailor
