// Evaluates a parsed template. Internal to the engine: data/jinja/template.h is the public face.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "data/jinja/ast.h"
#include "data/jinja/template.h"

namespace tailor::data::jinja {

struct Scope {
  std::shared_ptr<Scope> parent;
  std::unordered_map<std::string, Value> vars;
  const Value* lookup(const std::string& name) const;
};

class Interpreter {
 public:
  explicit Interpreter(const Limits& limits);

  Rendered run(const Body& body, const Variables& variables);

  // Used by the builtins.
  Value call(const Value& callee, Array& args, Kwargs& kwargs);
  bool test(const std::string& name, const Value& value, Array& args);
  Value filter(const std::string& name, const Value& value, Array& args, Kwargs& kwargs);
  void check_size(size_t bytes) const;  // a string or output past max_output_bytes is an error
  void count_iterations(size_t n);      // loops and builtins that iterate

 private:
  enum class Flow { Normal, Break, Continue };
  Flow exec(const Body& body, const std::shared_ptr<Scope>& scope);
  Flow exec(const Stmt& stmt, const std::shared_ptr<Scope>& scope);
  Flow exec_for(const Stmt& stmt, const std::shared_ptr<Scope>& scope);
  Value eval(const Expr& expr, const std::shared_ptr<Scope>& scope);
  Value eval_binary(const Expr& expr, const std::shared_ptr<Scope>& scope);
  Value eval_call(const Expr& expr, const std::shared_ptr<Scope>& scope);
  void eval_args(const std::vector<Arg>& in, const std::shared_ptr<Scope>& scope, Array& args, Kwargs& kwargs);
  Value make_macro(const Stmt& stmt, const std::shared_ptr<Scope>& scope, const Value& caller);
  Str capture(const Body& body, const std::shared_ptr<Scope>& scope);
  Value apply_filter_chain(const Expr& chain, Value input, const std::shared_ptr<Scope>& scope);
  void emit(const Str& s);
  void assign(Scope& scope, const std::vector<std::string>& targets, const Value& value, int line);

  const Limits& limits_;
  std::vector<Str> buffers_;  // output stack: root, then {% set %} blocks, macro calls, filter blocks
  std::vector<std::pair<size_t, size_t>> generation_spans_;
  size_t iterations_ = 0;
  int depth_ = 0;
  int macro_depth_ = 0;
};

// Builtins (data/jinja/builtins.cpp).
bool is_known_filter(const std::string& name);
bool is_known_test(const std::string& name);
Value apply_filter(Interpreter& in, const std::string& name, const Value& value, Array& args, Kwargs& kwargs);
bool apply_test(Interpreter& in, const std::string& name, const Value& value, Array& args);
// Methods of str, dict and list; nullopt-like Undefined with an empty hint if `name` is not a method.
bool has_method(const Value& object, const std::string& name);
Value call_method(Interpreter& in, const Value& object, const std::string& name, Array& args, Kwargs& kwargs);
Variables global_functions();
// Python-style indexing and slicing of str (by code point) and list.
Value get_item(const Value& object, const Value& key);
Value slice(const Value& object, const Value& start, const Value& stop, const Value& step);
Value iterate_items(const Value& v);  // what `for x in v` iterates, as a list; throws for non-iterables

}  // namespace tailor::data::jinja
