// The parsed template: expressions and statements of the Jinja2 subset chat templates use.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "data/jinja/value.h"

namespace tailor::data::jinja {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Arg {
  std::string name;  // empty: positional
  ExprPtr value;
};

struct Expr {
  enum class Kind {
    Literal,   // literal
    Name,      // name
    List,      // items
    Tuple,     // items
    Dict,      // items: key0, value0, key1, value1...
    GetAttr,   // a . name
    GetItem,   // a [ b ]
    Slice,     // a [ items[0] : items[1] : items[2] ] (null parts omitted)
    Call,      // a ( args )
    Filter,    // a | name ( args )
    Test,      // a is [not] name ( args )
    Unary,     // op a   (op: "-", "+", "not")
    Binary,    // a op b (op: + - * / // % ** ~ and or in "not in" == != < <= > >=)
    CondExpr,  // a if b else c
  };
  Kind kind;
  int line = 0;
  Value literal;
  std::string name;  // Name, GetAttr, Filter, Test, and the operator of Unary/Binary
  ExprPtr a, b, c;
  std::vector<ExprPtr> items;
  std::vector<Arg> args;
  bool negated = false;  // Test: `is not`
};

struct Stmt;
using Body = std::vector<std::unique_ptr<Stmt>>;

struct Stmt {
  enum class Kind {
    Text,        // text
    Output,      // {{ expr }}
    If,          // branches (cond, body)...; else_body
    For,         // targets in expr [if cond]; body; else_body
    Set,         // targets = expr, or {% set ns.attr = expr %} (attr non-empty)
    SetBlock,    // {% set target %}body{% endset %} (optional filter: expr with a null-input Filter chain)
    Macro,       // name(params) body
    CallBlock,   // {% call(params) expr %}body{% endcall %}
    FilterBlock, // {% filter f %}body{% endfilter %}: expr is a Filter chain applied to the body
    Break,
    Continue,
    Generation,  // {% generation %}body{% endgeneration %}: the span counts as assistant output
  };
  Kind kind;
  int line = 0;
  std::string text;
  ExprPtr expr, cond;
  std::vector<std::string> targets;
  std::string attr;
  std::vector<std::pair<ExprPtr, Body>> branches;
  Body body, else_body;
  std::vector<Arg> params;  // Macro/CallBlock parameters with optional defaults
};

}  // namespace tailor::data::jinja
