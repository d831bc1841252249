// Values of the chat-template language: the Python-like data model Jinja2 templates see (None, bool,
// int, float, str, list, dict, callables), with Python's printing, truthiness and comparison rules.
//
// Strings remember which of their characters came from the caller's data (message contents, tools)
// rather than from the template text. The chat-mask code uses this to keep special-token strings
// written by users from becoming special tokens, and to find each message's characters in the output.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tailor::data::jinja {

// Characters [begin, end) of a string that came from data. label: the message index they came from
// (>= 0), or -1 for other data (roles, tools, extra variables).
struct DataSpan {
  size_t begin = 0, end = 0;
  int label = -1;
};

// A string and the provenance of its characters; every operation keeps spans aligned with the text.
struct Str {
  std::string text;
  std::vector<DataSpan> spans;  // sorted, non-overlapping

  Str() = default;
  explicit Str(std::string t) : text(std::move(t)) {}
  static Str data(std::string t, int label);  // the whole string is data

  void append(const Str& other);
  void append(std::string_view template_text) { text += template_text; }
  Str substr(size_t pos, size_t count = std::string::npos) const;
  bool tainted() const { return !spans.empty(); }
  int first_label() const;  // the first message label among the spans, else -1
};

struct Value;
class Interpreter;
using Array = std::vector<Value>;
using Kwargs = std::vector<std::pair<std::string, Value>>;

// A dict keeps insertion order, like Python's. from_data: its keys are data (they may be printed).
struct Object {
  std::vector<std::pair<std::string, Value>> entries;
  bool from_data = false;
  bool is_namespace = false;  // namespace(): the one mutable object templates may assign attributes on

  const Value* find(std::string_view key) const;
  void set(const std::string& key, Value value);
};

struct Callable {
  std::string name;
  std::function<Value(Interpreter&, Array&, Kwargs&)> call;
};

struct Value {
  enum class Kind { Undefined, None, Bool, Int, Float, String, Array, Object, Callable };
  Kind kind = Kind::Undefined;
  bool boolean = false;
  int64_t integer = 0;
  double number = 0;
  std::shared_ptr<const Str> str;           // String; for Undefined, the name that was looked up
  std::shared_ptr<Array> array;             // Array (tuples too)
  std::shared_ptr<Object> object;           // Object
  std::shared_ptr<const Callable> callable; // Callable

  Value() = default;
  static Value undefined(std::string hint = "");
  static Value none();
  static Value from(bool b);
  static Value from(int64_t i);
  static Value from(double d);
  static Value from(Str s);
  static Value from(std::string s) { return from(Str(std::move(s))); }
  static Value from(Array a);
  static Value from(std::shared_ptr<Object> o);
  static Value from(Callable c);

  bool is_undefined() const { return kind == Kind::Undefined; }
  bool is_none() const { return kind == Kind::None; }
  bool is_string() const { return kind == Kind::String; }
  bool is_number() const { return kind == Kind::Int || kind == Kind::Float || kind == Kind::Bool; }
  bool is_array() const { return kind == Kind::Array; }
  bool is_object() const { return kind == Kind::Object; }
  const std::string& text() const { return str->text; }

  bool truthy() const;
  double as_double() const;
  const char* type_name() const;  // Python's name for the type, for error messages
};

// Python str(): what {{ value }} prints. Keeps data spans of strings; containers print as Python repr
// and are data as a whole when anything in them is.
Str to_str(const Value& v);
std::string py_repr(const Value& v);
std::string py_float_repr(double d);
// json.dumps as transformers' tojson filter calls it.
struct JsonStyle {
  int indent = -1;  // < 0: no newlines
  std::string item_separator, key_separator;
  bool ensure_ascii = false;
  bool sort_keys = false;
};
std::string to_json(const Value& v, const JsonStyle& style);
// The data label for a container's printed form: the first message label in it, -1 if only other data,
// and nullopt-like -2 when nothing in it is data.
int data_label(const Value& v);

bool equals(const Value& a, const Value& b);
// Python ordering for numbers and strings; throws InputError naming both types otherwise.
int compare(const Value& a, const Value& b);

// JSON from the caller becomes template data; every string is tagged with label (see DataSpan).
Value from_json(const nlohmann::ordered_json& j, int label);
Value from_json_trusted(const nlohmann::ordered_json& j);  // template-side values: no data spans

size_t utf8_length(std::string_view s);

}  // namespace tailor::data::jinja
