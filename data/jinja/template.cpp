#include "data/jinja/template.h"

#include "core/error.h"
#include "data/jinja/interpreter.h"
#include "data/jinja/parser.h"

namespace tailor::data::jinja {
namespace {

// Jinja2 rejects unknown filters and tests when it compiles a template; do the same so an unsupported
// template fails on load, not halfway through a dataset.
struct Validator {
  bool has_generation = false;

  void expr(const Expr* e) {
    if (!e) return;
    if (e->kind == Expr::Kind::Filter && !is_known_filter(e->name))
      throw InputError("line " + std::to_string(e->line) + ": unsupported filter '" + e->name + "'");
    if (e->kind == Expr::Kind::Test && !is_known_test(e->name))
      throw InputError("line " + std::to_string(e->line) + ": unsupported test '" + e->name + "'");
    expr(e->a.get());
    expr(e->b.get());
    expr(e->c.get());
    for (const auto& item : e->items) expr(item.get());
    for (const auto& a : e->args) expr(a.value.get());
  }
  void body(const Body& b) {
    for (const auto& s : b) stmt(*s);
  }
  void stmt(const Stmt& s) {
    if (s.kind == Stmt::Kind::Generation) has_generation = true;
    expr(s.expr.get());
    expr(s.cond.get());
    for (const auto& [cond, branch] : s.branches) {
      expr(cond.get());
      body(branch);
    }
    for (const auto& p : s.params) expr(p.value.get());
    body(s.body);
    body(s.else_body);
  }
};

}  // namespace

Template::Template(std::string_view source, const LexOptions& options) {
  auto body = std::make_shared<Body>(parse(source, options));
  Validator v;
  v.body(*body);
  has_generation_ = v.has_generation;
  body_ = std::move(body);
}

Rendered Template::render(const Variables& variables, const Limits& limits) const {
  Interpreter interpreter(limits);
  return interpreter.run(*body_, variables);
}

}  // namespace tailor::data::jinja
