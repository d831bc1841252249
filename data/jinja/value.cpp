#include "data/jinja/value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "core/error.h"

namespace tailor::data::jinja {

Str Str::data(std::string t, int label) {
  Str s(std::move(t));
  if (!s.text.empty()) s.spans.push_back({0, s.text.size(), label});
  return s;
}

void Str::append(const Str& other) {
  size_t offset = text.size();
  text += other.text;
  for (DataSpan span : other.spans) {
    span.begin += offset;
    span.end += offset;
    // Adjacent runs of the same origin merge so a string concatenated piecewise keeps one span.
    if (!spans.empty() && spans.back().end == span.begin && spans.back().label == span.label)
      spans.back().end = span.end;
    else
      spans.push_back(span);
  }
}

Str Str::substr(size_t pos, size_t count) const {
  pos = std::min(pos, text.size());
  size_t end = count == std::string::npos ? text.size() : std::min(text.size(), pos + count);
  Str out(text.substr(pos, end - pos));
  for (const DataSpan& span : spans) {
    size_t b = std::max(span.begin, pos), e = std::min(span.end, end);
    if (b < e) out.spans.push_back({b - pos, e - pos, span.label});
  }
  return out;
}

int Str::first_label() const {
  for (const DataSpan& span : spans)
    if (span.label >= 0) return span.label;
  return -1;
}

const Value* Object::find(std::string_view key) const {
  for (const auto& [k, v] : entries)
    if (k == key) return &v;
  return nullptr;
}

void Object::set(const std::string& key, Value value) {
  for (auto& [k, v] : entries)
    if (k == key) {
      v = std::move(value);
      return;
    }
  entries.emplace_back(key, std::move(value));
}

Value Value::undefined(std::string hint) {
  Value v;
  v.str = std::make_shared<const Str>(std::move(hint));
  return v;
}
Value Value::none() {
  Value v;
  v.kind = Kind::None;
  return v;
}
Value Value::from(bool b) {
  Value v;
  v.kind = Kind::Bool;
  v.boolean = b;
  return v;
}
Value Value::from(int64_t i) {
  Value v;
  v.kind = Kind::Int;
  v.integer = i;
  return v;
}
Value Value::from(double d) {
  Value v;
  v.kind = Kind::Float;
  v.number = d;
  return v;
}
Value Value::from(Str s) {
  Value v;
  v.kind = Kind::String;
  v.str = std::make_shared<const Str>(std::move(s));
  return v;
}
Value Value::from(Array a) {
  Value v;
  v.kind = Kind::Array;
  v.array = std::make_shared<Array>(std::move(a));
  return v;
}
Value Value::from(std::shared_ptr<Object> o) {
  Value v;
  v.kind = Kind::Object;
  v.object = std::move(o);
  return v;
}
Value Value::from(Callable c) {
  Value v;
  v.kind = Kind::Callable;
  v.callable = std::make_shared<const Callable>(std::move(c));
  return v;
}

bool Value::truthy() const {
  switch (kind) {
    case Kind::Undefined:
    case Kind::None: return false;
    case Kind::Bool: return boolean;
    case Kind::Int: return integer != 0;
    case Kind::Float: return number != 0;
    case Kind::String: return !str->text.empty();
    case Kind::Array: return !array->empty();
    case Kind::Object: return !object->entries.empty();
    case Kind::Callable: return true;
  }
  return false;
}

double Value::as_double() const {
  switch (kind) {
    case Kind::Bool: return boolean ? 1 : 0;
    case Kind::Int: return static_cast<double>(integer);
    case Kind::Float: return number;
    default: throw InputError(std::string("expected a number, got ") + type_name());
  }
}

const char* Value::type_name() const {
  switch (kind) {
    case Kind::Undefined: return "undefined";
    case Kind::None: return "NoneType";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::Float: return "float";
    case Kind::String: return "str";
    case Kind::Array: return "list";
    case Kind::Object: return "dict";
    case Kind::Callable: return "function";
  }
  return "?";
}

std::string py_float_repr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  // Shortest round-trip digits, laid out the way Python's repr does (exponent form when the decimal
  // point falls outside -4 < decpt <= 16).
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  bool negative = sci[0] == '-';
  if (negative) sci.erase(0, 1);
  size_t e = sci.find('e');
  int exponent = std::stoi(sci.substr(e + 1));
  std::string digits = sci.substr(0, e);
  digits.erase(std::remove(digits.begin(), digits.end(), '.'), digits.end());
  int decpt = exponent + 1;
  std::string out;
  if (decpt > -4 && decpt <= 16) {
    if (decpt <= 0) {
      out = "0." + std::string(-decpt, '0') + digits;
    } else if (static_cast<size_t>(decpt) >= digits.size()) {
      out = digits + std::string(decpt - digits.size(), '0') + ".0";
    } else {
      out = digits.substr(0, decpt) + "." + digits.substr(decpt);
    }
  } else {
    out = digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    char exp[16];
    std::snprintf(exp, sizeof exp, "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
    out += exp;
  }
  return negative ? "-" + out : out;
}

namespace {

std::string repr_string(const std::string& s) {
  bool has_single = s.find('\'') != std::string::npos, has_double = s.find('"') != std::string::npos;
  char quote = has_single && !has_double ? '"' : '\'';
  std::string out(1, quote);
  for (unsigned char c : s) {
    if (c == static_cast<unsigned char>(quote) || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  out += quote;
  return out;
}

void json_string(const std::string& s, bool ensure_ascii, std::string& out) {
  out += '"';
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = s[i];
    switch (c) {
      case '"': out += "\\\""; continue;
      case '\\': out += "\\\\"; continue;
      case '\n': out += "\\n"; continue;
      case '\r': out += "\\r"; continue;
      case '\t': out += "\\t"; continue;
      case '\b': out += "\\b"; continue;
      case '\f': out += "\\f"; continue;
      default: break;
    }
    char buf[16];
    if (c < 0x20 || (ensure_ascii && c == 0x7f)) {
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else if (c >= 0x80 && ensure_ascii) {
      // Decode one UTF-8 sequence and write it as \uXXXX (a surrogate pair above the BMP), like Python.
      int len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
      uint32_t cp = len == 1 ? c : c & (0x3F >> (len - 1));
      for (int k = 1; k < len && i + 1 < s.size(); ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[++i]) & 0x3F);
      if (cp >= 0x10000) {
        cp -= 0x10000;
        std::snprintf(buf, sizeof buf, "\\u%04x\\u%04x", 0xD800 + (cp >> 10), 0xDC00 + (cp & 0x3FF));
      } else {
        std::snprintf(buf, sizeof buf, "\\u%04x", cp);
      }
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
}

void json_value(const Value& v, const JsonStyle& style, int level, std::string& out) {
  auto newline = [&](int lvl) {
    if (style.indent >= 0) out += "\n" + std::string(static_cast<size_t>(style.indent * lvl), ' ');
  };
  switch (v.kind) {
    case Value::Kind::Undefined: throw InputError("tojson: value is undefined");
    case Value::Kind::None: out += "null"; return;
    case Value::Kind::Bool: out += v.boolean ? "true" : "false"; return;
    case Value::Kind::Int: out += std::to_string(v.integer); return;
    case Value::Kind::Float:
      if (std::isnan(v.number)) out += "NaN";
      else if (std::isinf(v.number)) out += v.number > 0 ? "Infinity" : "-Infinity";
      else out += py_float_repr(v.number);
      return;
    case Value::Kind::String: json_string(v.text(), style.ensure_ascii, out); return;
    case Value::Kind::Callable: throw InputError("tojson: a function is not JSON serializable");
    case Value::Kind::Array: {
      if (v.array->empty()) {
        out += "[]";
        return;
      }
      out += '[';
      for (size_t i = 0; i < v.array->size(); ++i) {
        if (i) out += style.item_separator;
        newline(level + 1);
        json_value((*v.array)[i], style, level + 1, out);
      }
      newline(level);
      out += ']';
      return;
    }
    case Value::Kind::Object: {
      if (v.object->entries.empty()) {
        out += "{}";
        return;
      }
      std::vector<const std::pair<std::string, Value>*> entries;
      for (const auto& e : v.object->entries) entries.push_back(&e);
      if (style.sort_keys)
        std::stable_sort(entries.begin(), entries.end(), [](auto* a, auto* b) { return a->first < b->first; });
      out += '{';
      for (size_t i = 0; i < entries.size(); ++i) {
        if (i) out += style.item_separator;
        newline(level + 1);
        json_string(entries[i]->first, style.ensure_ascii, out);
        out += style.key_separator;
        json_value(entries[i]->second, style, level + 1, out);
      }
      newline(level);
      out += '}';
      return;
    }
  }
}

}  // namespace

std::string py_repr(const Value& v) {
  switch (v.kind) {
    case Value::Kind::Undefined: return "";
    case Value::Kind::None: return "None";
    case Value::Kind::Bool: return v.boolean ? "True" : "False";
    case Value::Kind::Int: return std::to_string(v.integer);
    case Value::Kind::Float: return py_float_repr(v.number);
    case Value::Kind::String: return repr_string(v.text());
    case Value::Kind::Callable: return "<function " + v.callable->name + ">";
    case Value::Kind::Array: {
      std::string out = "[";
      for (size_t i = 0; i < v.array->size(); ++i) out += (i ? ", " : "") + py_repr((*v.array)[i]);
      return out + "]";
    }
    case Value::Kind::Object: {
      if (v.object->is_namespace) return "<Namespace>";
      std::string out = "{";
      bool first = true;
      for (const auto& [k, item] : v.object->entries) {
        out += (first ? "" : ", ") + repr_string(k) + ": " + py_repr(item);
        first = false;
      }
      return out + "}";
    }
  }
  return "";
}

int data_label(const Value& v) {
  switch (v.kind) {
    case Value::Kind::String: return v.str->tainted() ? v.str->first_label() : -2;
    case Value::Kind::Array: {
      int found = -2;
      for (const Value& item : *v.array) {
        int l = data_label(item);
        if (l >= 0) return l;
        found = std::max(found, l);
      }
      return found;
    }
    case Value::Kind::Object: {
      int found = v.object->from_data ? -1 : -2;
      for (const auto& [k, item] : v.object->entries) {
        int l = data_label(item);
        if (l >= 0) return l;
        found = std::max(found, l);
      }
      return found;
    }
    default: return -2;
  }
}

Str to_str(const Value& v) {
  switch (v.kind) {
    case Value::Kind::Undefined: return Str();
    case Value::Kind::String: return *v.str;
    case Value::Kind::Array:
    case Value::Kind::Object: {
      int label = data_label(v);
      return label == -2 ? Str(py_repr(v)) : Str::data(py_repr(v), label);
    }
    default: return Str(py_repr(v));
  }
}

std::string to_json(const Value& v, const JsonStyle& style) {
  std::string out;
  json_value(v, style, 0, out);
  return out;
}

bool equals(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.kind != Value::Kind::Float && b.kind != Value::Kind::Float)
      return (a.kind == Value::Kind::Bool ? a.boolean : a.integer) == (b.kind == Value::Kind::Bool ? b.boolean : b.integer);
    return a.as_double() == b.as_double();
  }
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case Value::Kind::Undefined:
    case Value::Kind::None: return true;
    case Value::Kind::String: return a.text() == b.text();
    case Value::Kind::Array:
      if (a.array->size() != b.array->size()) return false;
      for (size_t i = 0; i < a.array->size(); ++i)
        if (!equals((*a.array)[i], (*b.array)[i])) return false;
      return true;
    case Value::Kind::Object: {
      if (a.object == b.object) return true;
      if (a.object->entries.size() != b.object->entries.size()) return false;
      for (const auto& [k, item] : a.object->entries) {
        const Value* other = b.object->find(k);
        if (!other || !equals(item, *other)) return false;
      }
      return true;
    }
    case Value::Kind::Callable: return a.callable == b.callable;
    default: return false;
  }
}

int compare(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    double x = a.as_double(), y = b.as_double();
    if (a.kind != Value::Kind::Float && b.kind != Value::Kind::Float) {
      int64_t i = a.kind == Value::Kind::Bool ? a.boolean : a.integer, j = b.kind == Value::Kind::Bool ? b.boolean : b.integer;
      return i < j ? -1 : i > j ? 1 : 0;
    }
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (a.is_string() && b.is_string()) {
    int c = a.text().compare(b.text());  // byte order of UTF-8 equals code-point order
    return c < 0 ? -1 : c > 0 ? 1 : 0;
  }
  if (a.is_array() && b.is_array()) {
    for (size_t i = 0; i < std::min(a.array->size(), b.array->size()); ++i)
      if (int c = compare((*a.array)[i], (*b.array)[i])) return c;
    return a.array->size() < b.array->size() ? -1 : a.array->size() > b.array->size() ? 1 : 0;
  }
  throw InputError(std::string("cannot compare ") + a.type_name() + " with " + b.type_name());
}

namespace {
Value convert_json(const nlohmann::ordered_json& j, int label, bool data) {
  using json = nlohmann::ordered_json;
  switch (j.type()) {
    case json::value_t::null: return Value::none();
    case json::value_t::boolean: return Value::from(j.get<bool>());
    case json::value_t::number_integer: return Value::from(j.get<int64_t>());
    case json::value_t::number_unsigned: return Value::from(static_cast<int64_t>(j.get<uint64_t>()));
    case json::value_t::number_float: return Value::from(j.get<double>());
    case json::value_t::string:
      return Value::from(data ? Str::data(j.get<std::string>(), label) : Str(j.get<std::string>()));
    case json::value_t::array: {
      Array items;
      items.reserve(j.size());
      for (const auto& item : j) items.push_back(convert_json(item, label, data));
      return Value::from(std::move(items));
    }
    case json::value_t::object: {
      auto obj = std::make_shared<Object>();
      obj->from_data = data;
      for (auto it = j.begin(); it != j.end(); ++it) obj->entries.emplace_back(it.key(), convert_json(it.value(), label, data));
      return Value::from(std::move(obj));
    }
    default: throw InputError("unsupported JSON value (binary) in template data");
  }
}
}  // namespace

Value from_json(const nlohmann::ordered_json& j, int label) { return convert_json(j, label, true); }
Value from_json_trusted(const nlohmann::ordered_json& j) { return convert_json(j, -1, false); }

size_t utf8_length(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

}  // namespace tailor::data::jinja
