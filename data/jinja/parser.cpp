#include "data/jinja/parser.h"

#include <charconv>
#include <cstdlib>

#include "core/error.h"

namespace tailor::data::jinja {
namespace {

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : t_(std::move(tokens)) {}

  Body parse_template() {
    Body body = parse_body({});
    if (peek().kind != Token::Kind::End) fail("unexpected tag");
    return body;
  }

 private:
  const Token& peek(size_t ahead = 0) const { return t_[std::min(pos_ + ahead, t_.size() - 1)]; }
  const Token& next() { return t_[pos_ < t_.size() - 1 ? pos_++ : pos_]; }
  int line() const { return peek().line; }

  [[noreturn]] void fail(const std::string& what) const {
    throw InputError("line " + std::to_string(line()) + ": " + what);
  }
  bool is_op(std::string_view op, size_t ahead = 0) const {
    return peek(ahead).kind == Token::Kind::Op && peek(ahead).text == op;
  }
  bool is_name(std::string_view name, size_t ahead = 0) const {
    return peek(ahead).kind == Token::Kind::Name && peek(ahead).text == name;
  }
  void expect_op(std::string_view op) {
    if (!is_op(op)) fail("expected '" + std::string(op) + "', got " + describe(peek()));
    next();
  }
  std::string expect_name() {
    if (peek().kind != Token::Kind::Name) fail("expected a name, got " + describe(peek()));
    return next().text;
  }
  void expect_block_end() {
    if (peek().kind != Token::Kind::BlockEnd) fail("expected '%}', got " + describe(peek()));
    next();
  }
  static std::string describe(const Token& tok) {
    switch (tok.kind) {
      case Token::Kind::End: return "end of template";
      case Token::Kind::BlockEnd: return "'%}'";
      case Token::Kind::VarEnd: return "'}}'";
      case Token::Kind::Text: return "text";
      case Token::Kind::String: return "string '" + tok.text + "'";
      default: return "'" + tok.text + "'";
    }
  }

  // Parses statements until a block tag whose keyword is in `stops` (left unconsumed: the caller reads
  // the keyword). Reaching the end of input while stops are expected is an error.
  Body parse_body(std::vector<std::string_view> stops) {
    Body body;
    while (true) {
      const Token& tok = peek();
      if (tok.kind == Token::Kind::End) {
        if (!stops.empty()) fail("missing {% " + std::string(stops.back()) + " %}");
        return body;
      }
      if (tok.kind == Token::Kind::Text) {
        auto s = std::make_unique<Stmt>();
        s->kind = Stmt::Kind::Text;
        s->line = tok.line;
        s->text = next().text;
        body.push_back(std::move(s));
      } else if (tok.kind == Token::Kind::VarBegin) {
        next();
        auto s = std::make_unique<Stmt>();
        s->kind = Stmt::Kind::Output;
        s->line = tok.line;
        s->expr = parse_expression();
        if (peek().kind != Token::Kind::VarEnd) fail("expected '}}', got " + describe(peek()));
        next();
        body.push_back(std::move(s));
      } else if (tok.kind == Token::Kind::BlockBegin) {
        if (peek(1).kind == Token::Kind::Name)
          for (std::string_view stop : stops)
            if (peek(1).text == stop) return body;
        next();
        body.push_back(parse_statement());
      } else {
        fail("unexpected " + describe(tok));
      }
    }
  }

  // Consumes `{% keyword` of a closing/continuing tag.
  void open_tag(std::string_view keyword) {
    if (peek().kind != Token::Kind::BlockBegin || !is_name(keyword, 1)) fail("expected {% " + std::string(keyword) + " %}");
    next();
    next();
  }

  std::unique_ptr<Stmt> parse_statement() {
    int at = line();
    std::string keyword = expect_name();
    auto s = std::make_unique<Stmt>();
    s->line = at;
    if (keyword == "if") {
      s->kind = Stmt::Kind::If;
      ExprPtr cond = parse_expression();
      expect_block_end();
      Body body = parse_body({"elif", "else", "endif"});
      s->branches.emplace_back(std::move(cond), std::move(body));
      while (true) {
        next();
        std::string k = next().text;
        if (k == "elif") {
          ExprPtr c = parse_expression();
          expect_block_end();
          Body b = parse_body({"elif", "else", "endif"});
          s->branches.emplace_back(std::move(c), std::move(b));
        } else if (k == "else") {
          expect_block_end();
          s->else_body = parse_body({"endif"});
        } else {
          expect_block_end();
          break;
        }
      }
    } else if (keyword == "for") {
      s->kind = Stmt::Kind::For;
      s->targets = parse_targets();
      if (!is_name("in")) fail("expected 'in' in for loop");
      next();
      s->expr = parse_expression(false);
      if (is_name("if")) {
        next();
        s->cond = parse_expression(false);
      }
      if (is_name("recursive")) fail("unsupported construct 'recursive' loop");
      expect_block_end();
      s->body = parse_body({"else", "endfor"});
      if (is_name("else", 1)) {
        open_tag("else");
        expect_block_end();
        s->else_body = parse_body({"endfor"});
      }
      open_tag("endfor");
      expect_block_end();
    } else if (keyword == "set") {
      std::vector<std::string> targets = parse_targets();
      if (targets.size() == 1 && is_op(".")) {
        next();
        s->attr = expect_name();
      }
      s->targets = std::move(targets);
      if (is_op("=")) {
        next();
        s->kind = Stmt::Kind::Set;
        s->expr = parse_tuple_or_expression();
        expect_block_end();
      } else {
        if (!s->attr.empty() || s->targets.size() != 1) fail("block set takes one name");
        s->kind = Stmt::Kind::SetBlock;
        if (is_op("|")) s->expr = parse_filter_chain(nullptr);
        expect_block_end();
        s->body = parse_body({"endset"});
        open_tag("endset");
        expect_block_end();
      }
    } else if (keyword == "macro") {
      s->kind = Stmt::Kind::Macro;
      s->text = expect_name();
      s->params = parse_params();
      expect_block_end();
      s->body = parse_body({"endmacro"});
      open_tag("endmacro");
      expect_block_end();
    } else if (keyword == "call") {
      s->kind = Stmt::Kind::CallBlock;
      if (is_op("(")) s->params = parse_params();
      s->expr = parse_expression();
      if (s->expr->kind != Expr::Kind::Call) fail("{% call %} needs a macro call");
      expect_block_end();
      s->body = parse_body({"endcall"});
      open_tag("endcall");
      expect_block_end();
    } else if (keyword == "filter") {
      s->kind = Stmt::Kind::FilterBlock;
      s->expr = parse_filter_chain(nullptr, true);
      expect_block_end();
      s->body = parse_body({"endfilter"});
      open_tag("endfilter");
      expect_block_end();
    } else if (keyword == "break" || keyword == "continue") {
      s->kind = keyword == "break" ? Stmt::Kind::Break : Stmt::Kind::Continue;
      expect_block_end();
    } else if (keyword == "generation") {
      s->kind = Stmt::Kind::Generation;
      expect_block_end();
      s->body = parse_body({"endgeneration"});
      open_tag("endgeneration");
      expect_block_end();
    } else {
      throw InputError("line " + std::to_string(at) + ": unsupported construct '{% " + keyword + " %}'");
    }
    return s;
  }

  std::vector<std::string> parse_targets() {
    std::vector<std::string> names;
    bool paren = is_op("(");
    if (paren) next();
    names.push_back(expect_name());
    while (is_op(",")) {
      next();
      names.push_back(expect_name());
    }
    if (paren) expect_op(")");
    return names;
  }

  std::vector<Arg> parse_params() {
    std::vector<Arg> params;
    expect_op("(");
    while (!is_op(")")) {
      Arg p;
      p.name = expect_name();
      if (is_op("=")) {
        next();
        p.value = parse_expression();
      }
      params.push_back(std::move(p));
      if (!is_op(",")) break;
      next();
    }
    expect_op(")");
    return params;
  }

  ExprPtr make(Expr::Kind kind, int at) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->line = at;
    return e;
  }

  // `a, b` without brackets on the right of {% set %} is a tuple.
  ExprPtr parse_tuple_or_expression() {
    int at = line();
    ExprPtr first = parse_expression();
    if (!is_op(",")) return first;
    auto tuple = make(Expr::Kind::Tuple, at);
    tuple->items.push_back(std::move(first));
    while (is_op(",")) {
      next();
      if (peek().kind == Token::Kind::BlockEnd) break;
      tuple->items.push_back(parse_expression());
    }
    return tuple;
  }

  ExprPtr parse_expression(bool with_condexpr = true) {
    ExprPtr e = parse_or();
    if (!with_condexpr) return e;
    while (is_name("if")) {
      int at = line();
      next();
      auto cond = make(Expr::Kind::CondExpr, at);
      cond->a = std::move(e);
      cond->b = parse_or();
      if (is_name("else")) {
        next();
        cond->c = parse_expression();
      }
      e = std::move(cond);
    }
    return e;
  }

  ExprPtr binary(std::string op, ExprPtr l, ExprPtr r, int at) {
    auto e = make(Expr::Kind::Binary, at);
    e->name = std::move(op);
    e->a = std::move(l);
    e->b = std::move(r);
    return e;
  }

  ExprPtr parse_or() {
    ExprPtr e = parse_and();
    while (is_name("or")) {
      int at = line();
      next();
      e = binary("or", std::move(e), parse_and(), at);
    }
    return e;
  }
  ExprPtr parse_and() {
    ExprPtr e = parse_not();
    while (is_name("and")) {
      int at = line();
      next();
      e = binary("and", std::move(e), parse_not(), at);
    }
    return e;
  }
  ExprPtr parse_not() {
    if (is_name("not")) {
      int at = line();
      next();
      auto e = make(Expr::Kind::Unary, at);
      e->name = "not";
      e->a = parse_not();
      return e;
    }
    return parse_compare();
  }
  // The comparison operator at the cursor (consumed), or "" if none.
  std::string take_comparison() {
    if (is_op("==") || is_op("!=") || is_op("<") || is_op(">") || is_op("<=") || is_op(">=")) return next().text;
    if (is_name("in")) {
      next();
      return "in";
    }
    if (is_name("not") && is_name("in", 1)) {
      next();
      next();
      return "not in";
    }
    return "";
  }
  ExprPtr parse_compare() {
    ExprPtr e = parse_math1();
    int at = line();
    std::string op = take_comparison();
    if (op.empty()) return e;
    e = binary(op, std::move(e), parse_math1(), at);
    if (!take_comparison().empty()) fail("unsupported construct: chained comparison");
    return e;
  }
  ExprPtr parse_math1() {
    ExprPtr e = parse_concat();
    while (is_op("+") || is_op("-")) {
      int at = line();
      std::string op = next().text;
      e = binary(op, std::move(e), parse_concat(), at);
    }
    return e;
  }
  ExprPtr parse_concat() {
    ExprPtr e = parse_math2();
    while (is_op("~")) {
      int at = line();
      next();
      e = binary("~", std::move(e), parse_math2(), at);
    }
    return e;
  }
  ExprPtr parse_math2() {
    ExprPtr e = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      int at = line();
      std::string op = next().text;
      e = binary(op, std::move(e), parse_pow(), at);
    }
    return e;
  }
  ExprPtr parse_pow() {
    ExprPtr e = parse_unary();
    while (is_op("**")) {
      int at = line();
      next();
      e = binary("**", std::move(e), parse_unary(), at);
    }
    return e;
  }
  ExprPtr parse_unary(bool with_filter = true) {
    ExprPtr e;
    if (is_op("-") || is_op("+")) {
      int at = line();
      auto u = make(Expr::Kind::Unary, at);
      u->name = next().text;
      u->a = parse_unary(false);
      e = std::move(u);
    } else {
      e = parse_postfix(parse_primary());
    }
    if (with_filter) e = parse_filters_and_tests(std::move(e));
    return e;
  }

  ExprPtr parse_primary() {
    int at = line();
    const Token& tok = peek();
    switch (tok.kind) {
      case Token::Kind::String: {
        std::string s = next().text;
        while (peek().kind == Token::Kind::String) s += next().text;  // 'a' 'b' concatenates
        auto e = make(Expr::Kind::Literal, at);
        e->literal = Value::from(std::move(s));
        return e;
      }
      case Token::Kind::Int: {
        auto e = make(Expr::Kind::Literal, at);
        int64_t v = 0;
        const std::string& text = next().text;
        auto res = std::from_chars(text.data(), text.data() + text.size(), v);
        if (res.ec != std::errc()) fail("integer literal out of range: " + text);
        e->literal = Value::from(v);
        return e;
      }
      case Token::Kind::Float: {
        auto e = make(Expr::Kind::Literal, at);
        e->literal = Value::from(std::strtod(next().text.c_str(), nullptr));
        return e;
      }
      case Token::Kind::Name: {
        std::string name = next().text;
        auto e = make(Expr::Kind::Literal, at);
        if (name == "true" || name == "True") e->literal = Value::from(true);
        else if (name == "false" || name == "False") e->literal = Value::from(false);
        else if (name == "none" || name == "None") e->literal = Value::none();
        else {
          e->kind = Expr::Kind::Name;
          e->name = name;
        }
        return e;
      }
      case Token::Kind::Op:
        if (tok.text == "(") {
          next();
          if (is_op(")")) {
            next();
            return make(Expr::Kind::Tuple, at);
          }
          ExprPtr first = parse_expression();
          if (is_op(")")) {
            next();
            return first;
          }
          auto tuple = make(Expr::Kind::Tuple, at);
          tuple->items.push_back(std::move(first));
          while (is_op(",")) {
            next();
            if (is_op(")")) break;
            tuple->items.push_back(parse_expression());
          }
          expect_op(")");
          return tuple;
        }
        if (tok.text == "[") {
          next();
          auto list = make(Expr::Kind::List, at);
          while (!is_op("]")) {
            list->items.push_back(parse_expression());
            if (!is_op(",")) break;
            next();
          }
          expect_op("]");
          return list;
        }
        if (tok.text == "{") {
          next();
          auto dict = make(Expr::Kind::Dict, at);
          while (!is_op("}")) {
            dict->items.push_back(parse_expression());
            expect_op(":");
            dict->items.push_back(parse_expression());
            if (!is_op(",")) break;
            next();
          }
          expect_op("}");
          return dict;
        }
        break;
      default: break;
    }
    fail("unexpected " + describe(tok) + " in expression");
  }

  ExprPtr parse_postfix(ExprPtr e) {
    while (true) {
      int at = line();
      if (is_op(".")) {
        next();
        auto g = make(Expr::Kind::GetAttr, at);
        if (peek().kind == Token::Kind::Int) {
          g->kind = Expr::Kind::GetItem;
          auto idx = make(Expr::Kind::Literal, at);
          idx->literal = Value::from(static_cast<int64_t>(std::stoll(next().text)));
          g->b = std::move(idx);
        } else {
          g->name = expect_name();
        }
        g->a = std::move(e);
        e = std::move(g);
      } else if (is_op("[")) {
        next();
        ExprPtr parts[3];
        int part = 0;
        bool is_slice = false;
        while (true) {
          if (is_op(":")) {
            next();
            is_slice = true;
            if (++part > 2) fail("bad slice");
            continue;
          }
          if (is_op("]")) break;
          parts[part] = parse_expression();
          if (!is_op(":") && !is_op("]")) fail("expected ']' or ':' in subscript");
        }
        next();
        if (is_slice) {
          auto s = make(Expr::Kind::Slice, at);
          s->a = std::move(e);
          for (auto& p : parts) s->items.push_back(std::move(p));
          e = std::move(s);
        } else {
          if (!parts[0]) fail("empty subscript");
          auto g = make(Expr::Kind::GetItem, at);
          g->a = std::move(e);
          g->b = std::move(parts[0]);
          e = std::move(g);
        }
      } else if (is_op("(")) {
        auto call = make(Expr::Kind::Call, at);
        call->a = std::move(e);
        call->args = parse_call_args();
        e = std::move(call);
      } else {
        return e;
      }
    }
  }

  std::vector<Arg> parse_call_args() {
    std::vector<Arg> args;
    expect_op("(");
    while (!is_op(")")) {
      Arg a;
      if (is_op("*") || is_op("**")) fail("unsupported construct: *args/**kwargs in call");
      if (peek().kind == Token::Kind::Name && is_op("=", 1)) {
        a.name = next().text;
        next();
      }
      a.value = parse_expression();
      args.push_back(std::move(a));
      if (!is_op(",")) break;
      next();
    }
    expect_op(")");
    return args;
  }

  // A filter chain `| f(args) | g` applied to `input` (null in {% filter %} and {% set x | f %}).
  ExprPtr parse_filter_chain(ExprPtr input, bool leading_name = false) {
    ExprPtr e = std::move(input);
    bool first = true;
    while (is_op("|") || (leading_name && first)) {
      if (!(leading_name && first)) next();
      first = false;
      int at = line();
      auto f = make(Expr::Kind::Filter, at);
      f->name = expect_name();
      while (is_op(".")) {  // dotted filter names do not exist in Jinja2's builtins; name them in the error
        next();
        f->name += "." + expect_name();
      }
      if (is_op("(")) f->args = parse_call_args();
      f->a = std::move(e);
      e = std::move(f);
    }
    return e;
  }

  ExprPtr parse_filters_and_tests(ExprPtr e) {
    while (true) {
      if (is_op("|")) {
        e = parse_filter_chain(std::move(e));
      } else if (is_name("is")) {
        int at = line();
        next();
        auto t = make(Expr::Kind::Test, at);
        if (is_name("not")) {
          next();
          t->negated = true;
        }
        t->name = expect_name();
        if (is_op("(")) {
          t->args = parse_call_args();
        } else if (peek().kind == Token::Kind::String || peek().kind == Token::Kind::Int ||
                   peek().kind == Token::Kind::Float || is_op("[") || is_op("{") ||
                   (peek().kind == Token::Kind::Name && !is_name("and") && !is_name("or") && !is_name("else"))) {
          // Like Jinja2: one argument may follow a test name without parentheses (`is divisibleby 3`).
          Arg a;
          a.value = parse_postfix(parse_primary());
          t->args.push_back(std::move(a));
        }
        t->a = std::move(e);
        e = std::move(t);
      } else {
        return e;
      }
    }
  }

  std::vector<Token> t_;
  size_t pos_ = 0;
};

}  // namespace

Body parse(std::string_view source, const LexOptions& options) { return Parser(lex(source, options)).parse_template(); }

}  // namespace tailor::data::jinja
