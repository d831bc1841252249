#include "data/jinja/interpreter.h"

#include <cmath>

#include "core/error.h"

namespace tailor::data::jinja {

const Value* Scope::lookup(const std::string& name) const {
  for (const Scope* s = this; s; s = s->parent.get()) {
    auto it = s->vars.find(name);
    if (it != s->vars.end()) return &it->second;
  }
  return nullptr;
}

Interpreter::Interpreter(const Limits& limits) : limits_(limits) {}

namespace {

bool has_line_prefix(const std::string& message) { return message.rfind("line ", 0) == 0; }

[[noreturn]] void type_error(const std::string& op, const Value& a, const Value& b) {
  throw InputError("unsupported operand types for " + op + ": '" + a.type_name() + "' and '" + b.type_name() + "'");
}

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

bool both_ints(const Value& a, const Value& b) {
  return a.is_number() && b.is_number() && a.kind != Value::Kind::Float && b.kind != Value::Kind::Float;
}
int64_t as_int(const Value& v) { return v.kind == Value::Kind::Bool ? v.boolean : v.integer; }

}  // namespace

void Interpreter::check_size(size_t bytes) const {
  if (bytes > limits_.max_output_bytes)
    throw InputError("template output exceeds the limit of " + std::to_string(limits_.max_output_bytes) + " bytes");
}

void Interpreter::count_iterations(size_t n) {
  iterations_ += n;
  if (iterations_ > limits_.max_loop_iterations)
    throw InputError("template exceeds the limit of " + std::to_string(limits_.max_loop_iterations) + " loop iterations");
}

void Interpreter::emit(const Str& s) {
  Str& out = buffers_.back();
  check_size(out.text.size() + s.text.size());
  out.append(s);
}

Rendered Interpreter::run(const Body& body, const Variables& variables) {
  auto globals = std::make_shared<Scope>();
  for (auto& [name, value] : global_functions()) globals->vars[name] = value;
  for (const auto& [name, value] : variables) globals->vars[name] = value;
  auto root = std::make_shared<Scope>();
  root->parent = globals;
  buffers_.assign(1, Str());
  exec(body, root);
  return Rendered{std::move(buffers_.front()), std::move(generation_spans_)};
}

Interpreter::Flow Interpreter::exec(const Body& body, const std::shared_ptr<Scope>& scope) {
  for (const auto& stmt : body) {
    Flow flow = exec(*stmt, scope);
    if (flow != Flow::Normal) return flow;
  }
  return Flow::Normal;
}

Str Interpreter::capture(const Body& body, const std::shared_ptr<Scope>& scope) {
  buffers_.emplace_back();
  try {
    exec(body, scope);
  } catch (...) {
    buffers_.pop_back();
    throw;
  }
  Str out = std::move(buffers_.back());
  buffers_.pop_back();
  return out;
}

void Interpreter::assign(Scope& scope, const std::vector<std::string>& targets, const Value& value, int line) {
  if (targets.size() == 1) {
    scope.vars[targets[0]] = value;
    return;
  }
  Value items = iterate_items(value);
  if (items.array->size() != targets.size())
    throw InputError("line " + std::to_string(line) + ": cannot unpack " + std::to_string(items.array->size()) +
                     " values into " + std::to_string(targets.size()) + " names");
  for (size_t i = 0; i < targets.size(); ++i) scope.vars[targets[i]] = (*items.array)[i];
}

Interpreter::Flow Interpreter::exec(const Stmt& stmt, const std::shared_ptr<Scope>& scope) {
  if (++depth_ > limits_.max_depth * 4) {
    --depth_;
    throw InputError("line " + std::to_string(stmt.line) + ": template nesting exceeds the limit");
  }
  struct DepthGuard {
    int& d;
    ~DepthGuard() { --d; }
  } guard{depth_};
  try {
    switch (stmt.kind) {
      case Stmt::Kind::Text: emit(Str(stmt.text)); return Flow::Normal;
      case Stmt::Kind::Output: emit(to_str(eval(*stmt.expr, scope))); return Flow::Normal;
      case Stmt::Kind::If:
        for (const auto& [cond, body] : stmt.branches)
          if (eval(*cond, scope).truthy()) return exec(body, scope);
        return exec(stmt.else_body, scope);
      case Stmt::Kind::For: return exec_for(stmt, scope);
      case Stmt::Kind::Set: {
        Value value = eval(*stmt.expr, scope);
        if (!stmt.attr.empty()) {
          const Value* target = scope->lookup(stmt.targets[0]);
          if (!target || !target->is_object() || !target->object->is_namespace)
            throw InputError("cannot assign attribute '" + stmt.attr + "' on '" + stmt.targets[0] + "': not a namespace()");
          target->object->set(stmt.attr, std::move(value));
        } else {
          assign(*scope, stmt.targets, value, stmt.line);
        }
        return Flow::Normal;
      }
      case Stmt::Kind::SetBlock: {
        Value value = Value::from(capture(stmt.body, scope));
        if (stmt.expr) value = apply_filter_chain(*stmt.expr, std::move(value), scope);
        scope->vars[stmt.targets[0]] = std::move(value);
        return Flow::Normal;
      }
      case Stmt::Kind::FilterBlock: {
        emit(to_str(apply_filter_chain(*stmt.expr, Value::from(capture(stmt.body, scope)), scope)));
        return Flow::Normal;
      }
      case Stmt::Kind::Macro:
        scope->vars[stmt.text] = make_macro(stmt, scope, Value::undefined("caller"));
        return Flow::Normal;
      case Stmt::Kind::CallBlock: {
        Value caller = make_macro(stmt, scope, Value::undefined("caller"));
        const Expr& call = *stmt.expr;
        Value callee = eval(*call.a, scope);
        Array args;
        Kwargs kwargs;
        eval_args(call.args, scope, args, kwargs);
        kwargs.emplace_back("caller", caller);
        emit(to_str(this->call(callee, args, kwargs)));
        return Flow::Normal;
      }
      case Stmt::Kind::Break: return Flow::Break;
      case Stmt::Kind::Continue: return Flow::Continue;
      case Stmt::Kind::Generation: {
        bool at_root = buffers_.size() == 1;
        size_t begin = buffers_.back().text.size();
        Flow flow = exec(stmt.body, scope);
        if (at_root) generation_spans_.emplace_back(begin, buffers_.back().text.size());
        return flow;
      }
    }
  } catch (const InputError& e) {
    if (has_line_prefix(e.what())) throw;
    throw InputError("line " + std::to_string(stmt.line) + ": " + e.what());
  }
  return Flow::Normal;
}

// {% filter f | g %} and {% set x | f %}: the chain's innermost input is null; `input` takes its place.
Value Interpreter::apply_filter_chain(const Expr& chain, Value input, const std::shared_ptr<Scope>& scope) {
  std::vector<const Expr*> filters;
  for (const Expr* f = &chain; f; f = f->a.get()) filters.push_back(f);
  for (auto it = filters.rbegin(); it != filters.rend(); ++it) {
    Array args;
    Kwargs kwargs;
    eval_args((*it)->args, scope, args, kwargs);
    input = filter((*it)->name, input, args, kwargs);
  }
  return input;
}

Interpreter::Flow Interpreter::exec_for(const Stmt& stmt, const std::shared_ptr<Scope>& scope) {
  Value iterable = eval(*stmt.expr, scope);
  Array items;
  {
    Value all = iterate_items(iterable);
    if (stmt.cond) {
      for (const Value& item : *all.array) {
        count_iterations(1);
        auto probe = std::make_shared<Scope>();
        probe->parent = scope;
        assign(*probe, stmt.targets, item, stmt.line);
        if (eval(*stmt.cond, probe).truthy()) items.push_back(item);
      }
    } else {
      items = *all.array;
    }
  }
  if (items.empty()) return exec(stmt.else_body, scope);
  const int64_t n = static_cast<int64_t>(items.size());
  for (int64_t i = 0; i < n; ++i) {
    count_iterations(1);
    auto frame = std::make_shared<Scope>();
    frame->parent = scope;
    auto loop = std::make_shared<Object>();
    loop->entries = {
        {"index", Value::from(i + 1)},
        {"index0", Value::from(i)},
        {"revindex", Value::from(n - i)},
        {"revindex0", Value::from(n - i - 1)},
        {"first", Value::from(i == 0)},
        {"last", Value::from(i == n - 1)},
        {"length", Value::from(n)},
        {"depth", Value::from(int64_t{1})},
        {"depth0", Value::from(int64_t{0})},
        {"previtem", i > 0 ? items[i - 1] : Value::undefined("loop.previtem")},
        {"nextitem", i + 1 < n ? items[i + 1] : Value::undefined("loop.nextitem")},
        {"cycle", Value::from(Callable{"loop.cycle", [i](Interpreter&, Array& args, Kwargs&) {
                                         if (args.empty()) throw InputError("loop.cycle() needs at least one value");
                                         return args[static_cast<size_t>(i) % args.size()];
                                       }})},
    };
    frame->vars["loop"] = Value::from(loop);
    assign(*frame, stmt.targets, items[i], stmt.line);
    Flow flow = exec(stmt.body, frame);
    if (flow == Flow::Break) break;
  }
  return Flow::Normal;
}

Value Interpreter::make_macro(const Stmt& stmt, const std::shared_ptr<Scope>& scope, const Value&) {
  const Stmt* def = &stmt;
  std::shared_ptr<Scope> closure = scope;
  std::string name = stmt.kind == Stmt::Kind::Macro ? stmt.text : "caller";
  return Value::from(Callable{name, [def, closure, name](Interpreter& in, Array& args, Kwargs& kwargs) {
    if (in.depth_ >= in.limits_.max_depth * 4 - 4 || ++in.macro_depth_ > in.limits_.max_depth) {
      throw InputError("macro '" + name + "': recursion deeper than " + std::to_string(in.limits_.max_depth));
    }
    struct Guard {
      int& d;
      ~Guard() { --d; }
    } guard{in.macro_depth_};
    auto frame = std::make_shared<Scope>();
    frame->parent = closure;
    Array varargs;
    for (size_t i = 0; i < args.size(); ++i) {
      if (i < def->params.size()) frame->vars[def->params[i].name] = args[i];
      else varargs.push_back(args[i]);
    }
    auto extra = std::make_shared<Object>();
    for (auto& [key, value] : kwargs) {
      bool is_param = key == "caller";
      for (const Arg& p : def->params) is_param |= p.name == key;
      if (is_param) frame->vars[key] = value;
      else extra->entries.emplace_back(key, value);
    }
    for (const Arg& p : def->params) {
      if (frame->vars.count(p.name)) continue;
      frame->vars[p.name] = p.value ? in.eval(*p.value, frame) : Value::undefined(p.name);
    }
    frame->vars["varargs"] = Value::from(std::move(varargs));
    frame->vars["kwargs"] = Value::from(extra);
    return Value::from(in.capture(def->body, frame));
  }});
}

void Interpreter::eval_args(const std::vector<Arg>& in, const std::shared_ptr<Scope>& scope, Array& args, Kwargs& kwargs) {
  for (const Arg& a : in) {
    if (a.name.empty()) args.push_back(eval(*a.value, scope));
    else kwargs.emplace_back(a.name, eval(*a.value, scope));
  }
}

Value Interpreter::call(const Value& callee, Array& args, Kwargs& kwargs) {
  if (callee.kind != Value::Kind::Callable) {
    if (callee.is_undefined()) throw InputError("'" + callee.text() + "' is undefined (not a function)");
    throw InputError(std::string("'") + callee.type_name() + "' object is not callable");
  }
  return callee.callable->call(*this, args, kwargs);
}

bool Interpreter::test(const std::string& name, const Value& value, Array& args) { return apply_test(*this, name, value, args); }

Value Interpreter::filter(const std::string& name, const Value& value, Array& args, Kwargs& kwargs) {
  return apply_filter(*this, name, value, args, kwargs);
}

Value Interpreter::eval_call(const Expr& expr, const std::shared_ptr<Scope>& scope) {
  Array args;
  Kwargs kwargs;
  if (expr.a->kind == Expr::Kind::GetAttr) {
    Value object = eval(*expr.a->a, scope);
    if (has_method(object, expr.a->name)) {
      eval_args(expr.args, scope, args, kwargs);
      return call_method(*this, object, expr.a->name, args, kwargs);
    }
  }
  Value callee = eval(*expr.a, scope);
  eval_args(expr.args, scope, args, kwargs);
  return call(callee, args, kwargs);
}

Value Interpreter::eval(const Expr& expr, const std::shared_ptr<Scope>& scope) {
  switch (expr.kind) {
    case Expr::Kind::Literal: return expr.literal;
    case Expr::Kind::Name: {
      const Value* v = scope->lookup(expr.name);
      return v ? *v : Value::undefined(expr.name);
    }
    case Expr::Kind::List:
    case Expr::Kind::Tuple: {
      Array items;
      for (const auto& item : expr.items) items.push_back(eval(*item, scope));
      return Value::from(std::move(items));
    }
    case Expr::Kind::Dict: {
      auto obj = std::make_shared<Object>();
      for (size_t i = 0; i + 1 < expr.items.size(); i += 2) {
        Value key = eval(*expr.items[i], scope);
        if (!key.is_string()) throw InputError("dict literal keys must be strings here");
        obj->set(key.text(), eval(*expr.items[i + 1], scope));
      }
      return Value::from(std::move(obj));
    }
    case Expr::Kind::GetAttr: {
      Value object = eval(*expr.a, scope);
      if (expr.name.rfind("__", 0) == 0 || expr.name.rfind("_", 0) == 0)
        throw InputError("access to attribute '" + expr.name + "' is not allowed");
      if (object.is_undefined()) throw InputError("'" + object.text() + "' is undefined");
      if (object.is_object()) {
        const Value* v = object.object->find(expr.name);
        return v ? *v : Value::undefined(expr.name);
      }
      return Value::undefined(expr.name);
    }
    case Expr::Kind::GetItem: {
      Value object = eval(*expr.a, scope);
      Value key = eval(*expr.b, scope);
      if (object.is_undefined()) throw InputError("'" + object.text() + "' is undefined");
      if (key.is_string() && key.text().rfind("__", 0) == 0)
        throw InputError("access to attribute '" + key.text() + "' is not allowed");
      return get_item(object, key);
    }
    case Expr::Kind::Slice: {
      Value object = eval(*expr.a, scope);
      auto part = [&](size_t i) { return expr.items[i] ? eval(*expr.items[i], scope) : Value::none(); };
      return slice(object, part(0), part(1), part(2));
    }
    case Expr::Kind::Call: return eval_call(expr, scope);
    case Expr::Kind::Filter: {
      Value value = eval(*expr.a, scope);
      Array args;
      Kwargs kwargs;
      eval_args(expr.args, scope, args, kwargs);
      return filter(expr.name, value, args, kwargs);
    }
    case Expr::Kind::Test: {
      Value value = eval(*expr.a, scope);
      Array args;
      Kwargs kwargs;
      eval_args(expr.args, scope, args, kwargs);
      bool result = test(expr.name, value, args);
      return Value::from(expr.negated ? !result : result);
    }
    case Expr::Kind::Unary: {
      Value v = eval(*expr.a, scope);
      if (expr.name == "not") return Value::from(!v.truthy());
      if (!v.is_number()) throw InputError(std::string("bad operand type for unary ") + expr.name + ": '" + v.type_name() + "'");
      if (expr.name == "+") return v.kind == Value::Kind::Bool ? Value::from(as_int(v)) : v;
      if (v.kind == Value::Kind::Float) return Value::from(-v.number);
      return Value::from(-as_int(v));
    }
    case Expr::Kind::Binary: return eval_binary(expr, scope);
    case Expr::Kind::CondExpr:
      if (eval(*expr.b, scope).truthy()) return eval(*expr.a, scope);
      return expr.c ? eval(*expr.c, scope) : Value::undefined("inline if");
  }
  return Value::undefined();
}

Value Interpreter::eval_binary(const Expr& expr, const std::shared_ptr<Scope>& scope) {
  const std::string& op = expr.name;
  if (op == "and") {
    Value a = eval(*expr.a, scope);
    return a.truthy() ? eval(*expr.b, scope) : a;
  }
  if (op == "or") {
    Value a = eval(*expr.a, scope);
    return a.truthy() ? a : eval(*expr.b, scope);
  }
  Value a = eval(*expr.a, scope);
  Value b = eval(*expr.b, scope);
  if (op == "~") {
    Str s = to_str(a);
    s.append(to_str(b));
    check_size(s.text.size());
    return Value::from(std::move(s));
  }
  if (op == "==") return Value::from(equals(a, b));
  if (op == "!=") return Value::from(!equals(a, b));
  if (op == "<") return Value::from(compare(a, b) < 0);
  if (op == "<=") return Value::from(compare(a, b) <= 0);
  if (op == ">") return Value::from(compare(a, b) > 0);
  if (op == ">=") return Value::from(compare(a, b) >= 0);
  if (op == "in" || op == "not in") {
    bool found = false;
    if (b.is_string()) {
      if (!a.is_string()) throw InputError(std::string("'in <string>' requires string as left operand, not ") + a.type_name());
      found = b.text().find(a.text()) != std::string::npos;
    } else if (b.is_array()) {
      for (const Value& item : *b.array)
        if (equals(item, a)) found = true;
    } else if (b.is_object()) {
      found = a.is_string() && b.object->find(a.text());
    } else if (b.is_undefined()) {
      throw InputError("'" + b.text() + "' is undefined");
    } else {
      throw InputError(std::string("argument of type '") + b.type_name() + "' is not iterable");
    }
    return Value::from(op == "in" ? found : !found);
  }
  if (op == "+") {
    if (a.is_string() && b.is_string()) {
      Str s = *a.str;
      s.append(*b.str);
      check_size(s.text.size());
      return Value::from(std::move(s));
    }
    if (a.is_array() && b.is_array()) {
      Array items = *a.array;
      items.insert(items.end(), b.array->begin(), b.array->end());
      count_iterations(items.size());
      return Value::from(std::move(items));
    }
    if (!a.is_number() || !b.is_number()) type_error(op, a, b);
    if (both_ints(a, b)) return Value::from(as_int(a) + as_int(b));
    return Value::from(a.as_double() + b.as_double());
  }
  if (op == "*") {
    const Value* seq = a.is_string() || a.is_array() ? &a : b.is_string() || b.is_array() ? &b : nullptr;
    if (seq) {
      const Value& count = seq == &a ? b : a;
      if (count.kind != Value::Kind::Int && count.kind != Value::Kind::Bool) type_error(op, a, b);
      int64_t n = std::max<int64_t>(0, as_int(count));
      if (seq->is_string()) {
        check_size(seq->text().size() * static_cast<size_t>(n));
        Str s;
        for (int64_t i = 0; i < n; ++i) s.append(*seq->str);
        return Value::from(std::move(s));
      }
      count_iterations(seq->array->size() * static_cast<size_t>(n));
      Array items;
      for (int64_t i = 0; i < n; ++i) items.insert(items.end(), seq->array->begin(), seq->array->end());
      return Value::from(std::move(items));
    }
    if (!a.is_number() || !b.is_number()) type_error(op, a, b);
    if (both_ints(a, b)) return Value::from(as_int(a) * as_int(b));
    return Value::from(a.as_double() * b.as_double());
  }
  if (!a.is_number() || !b.is_number()) {
    if (op == "%" && a.is_string()) {
      Array args = b.is_array() ? *b.array : Array{b};
      Kwargs none;
      return filter("format", a, args, none);
    }
    type_error(op, a, b);
  }
  if (op == "-") {
    if (both_ints(a, b)) return Value::from(as_int(a) - as_int(b));
    return Value::from(a.as_double() - b.as_double());
  }
  if (op == "/") {
    if (b.as_double() == 0) throw InputError("division by zero");
    return Value::from(a.as_double() / b.as_double());
  }
  if (op == "//" || op == "%") {
    if (b.as_double() == 0) throw InputError(op == "%" ? "modulo by zero" : "integer division by zero");
    if (both_ints(a, b)) {
      int64_t q = floor_div(as_int(a), as_int(b));
      return Value::from(op == "//" ? q : as_int(a) - q * as_int(b));
    }
    double x = a.as_double(), y = b.as_double();
    double q = std::floor(x / y);
    return Value::from(op == "//" ? q : x - q * y);
  }
  if (op == "**") {
    if (both_ints(a, b) && as_int(b) >= 0) {
      int64_t result = 1, base = as_int(a);
      if (base == 0 || base == 1) return Value::from(as_int(b) == 0 ? int64_t{1} : base);
      if (base == -1) return Value::from(as_int(b) % 2 ? int64_t{-1} : int64_t{1});
      for (int64_t i = 0; i < as_int(b); ++i) {
        if (__builtin_mul_overflow(result, base, &result)) throw InputError("integer overflow in **");
      }
      return Value::from(result);
    }
    return Value::from(std::pow(a.as_double(), b.as_double()));
  }
  throw InputError("unknown operator " + op);
}

}  // namespace tailor::data::jinja
