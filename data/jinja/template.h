// A compiled chat template: parse once, render many times with different variables.
//
// The engine implements the Jinja2 subset real chat templates use, configured as transformers does
// (trim_blocks, lstrip_blocks, loop controls, `{% generation %}`, raise_exception, strftime_now, and a
// tojson that matches json.dumps). It is sandboxed by construction: templates see only the data they
// are given (no Python objects, no dunder attributes), and loops, recursion and output are bounded.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "data/jinja/ast.h"
#include "data/jinja/lexer.h"
#include "data/jinja/value.h"

namespace tailor::data::jinja {

struct Limits {
  size_t max_output_bytes = 16u << 20;      // also caps any single string a template builds
  size_t max_loop_iterations = 1'000'000;   // all loops of one render together
  int max_depth = 100;                      // nested macro calls and statement nesting
};

struct Rendered {
  Str text;                                               // with the data spans of its characters
  std::vector<std::pair<size_t, size_t>> generation_spans;  // [begin, end) of each {% generation %} block
};

using Variables = std::vector<std::pair<std::string, Value>>;

class Template {
 public:
  // Throws InputError "line N: ..." for syntax errors and unsupported constructs, filters and tests.
  explicit Template(std::string_view source, const LexOptions& options = {});

  // Throws InputError "line N: ..." for runtime errors (undefined attribute access, type errors,
  // raise_exception, exceeded limits).
  Rendered render(const Variables& variables, const Limits& limits = {}) const;

  bool has_generation_blocks() const { return has_generation_; }

 private:
  std::shared_ptr<const Body> body_;
  bool has_generation_ = false;
};

}  // namespace tailor::data::jinja
