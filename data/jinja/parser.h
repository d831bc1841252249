// Parses lexed tokens into statements. Constructs outside the supported subset (include, import,
// extends, block, ...) fail with the line and the construct named.
#pragma once

#include <string_view>

#include "data/jinja/ast.h"
#include "data/jinja/lexer.h"

namespace tailor::data::jinja {

Body parse(std::string_view source, const LexOptions& options = {});

}  // namespace tailor::data::jinja
