// Filters, tests, methods of str/dict/list, and global functions, with Python's semantics where
// templates depend on them. String operations keep the data spans of the characters they copy.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <ctime>
#include <set>

#include "core/error.h"
#include "data/jinja/interpreter.h"

namespace tailor::data::jinja {
namespace {

// ---- arguments ---------------------------------------------------------------------------------

// Python-style argument binding: positional index `pos` or keyword `name`, else `fallback`.
Value arg(const Array& args, const Kwargs& kwargs, size_t pos, const char* name, Value fallback = Value::undefined()) {
  for (const auto& [k, v] : kwargs)
    if (k == name) return v;
  return pos < args.size() ? args[pos] : fallback;
}

int64_t to_int(const Value& v, const char* what) {
  if (v.kind == Value::Kind::Int) return v.integer;
  if (v.kind == Value::Kind::Bool) return v.boolean;
  throw InputError(std::string(what) + " must be an integer, got " + v.type_name());
}

const Str& need_str(const Value& v, const char* what) {
  if (!v.is_string()) throw InputError(std::string(what) + " expects a string, got " + v.type_name());
  return *v.str;
}

// ---- code points -------------------------------------------------------------------------------

// Byte offset of each code point, plus the total size at the end.
std::vector<size_t> code_points(const std::string& s) {
  std::vector<size_t> offsets;
  offsets.reserve(s.size() + 1);
  for (size_t i = 0; i < s.size(); ++i)
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) offsets.push_back(i);
  offsets.push_back(s.size());
  return offsets;
}

int64_t cp_index(const std::string& s, size_t byte_offset) {
  return static_cast<int64_t>(utf8_length(std::string_view(s).substr(0, byte_offset)));
}

bool is_py_space(unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f); }

// ---- str operations ----------------------------------------------------------------------------

Str strip(const Str& s, const Value& chars, bool left, bool right) {
  const std::string& t = s.text;
  std::vector<std::string> set;
  bool whitespace = chars.is_none() || chars.is_undefined();
  if (!whitespace) {
    const std::string& c = need_str(chars, "strip()").text;
    auto cps = code_points(c);
    for (size_t i = 0; i + 1 < cps.size(); ++i) set.push_back(c.substr(cps[i], cps[i + 1] - cps[i]));
  }
  auto cps = code_points(t);
  auto strippable = [&](size_t i) {
    std::string_view cp = std::string_view(t).substr(cps[i], cps[i + 1] - cps[i]);
    if (whitespace) return cp.size() == 1 && is_py_space(static_cast<unsigned char>(cp[0]));
    return std::find(set.begin(), set.end(), cp) != set.end();
  };
  size_t b = 0, e = cps.size() - 1;
  if (left)
    while (b < e && strippable(b)) ++b;
  if (right)
    while (e > b && strippable(e - 1)) --e;
  return s.substr(cps[b], cps[e] - cps[b]);
}

Array split(const Str& s, const Value& sep_value, int64_t maxsplit, bool from_right) {
  const std::string& t = s.text;
  Array parts;
  if (sep_value.is_none() || sep_value.is_undefined()) {
    // Runs of whitespace separate; leading/trailing whitespace yields no empty parts.
    std::vector<std::pair<size_t, size_t>> words;
    for (size_t i = 0; i < t.size();) {
      while (i < t.size() && is_py_space(static_cast<unsigned char>(t[i]))) ++i;
      if (i >= t.size()) break;
      size_t start = i;
      while (i < t.size() && !is_py_space(static_cast<unsigned char>(t[i]))) ++i;
      words.emplace_back(start, i);
    }
    if (maxsplit >= 0 && static_cast<size_t>(maxsplit) + 1 < words.size()) {
      if (from_right) {
        size_t keep = words.size() - static_cast<size_t>(maxsplit);
        size_t end = words[keep - 1].second;
        Array out{Value::from(s.substr(words[0].first, end - words[0].first))};
        for (size_t k = keep; k < words.size(); ++k) out.push_back(Value::from(s.substr(words[k].first, words[k].second - words[k].first)));
        return out;
      }
      for (size_t k = 0; k < static_cast<size_t>(maxsplit); ++k)
        parts.push_back(Value::from(s.substr(words[k].first, words[k].second - words[k].first)));
      size_t rest = words[static_cast<size_t>(maxsplit)].first;
      size_t end = t.size();
      while (end > rest && is_py_space(static_cast<unsigned char>(t[end - 1]))) --end;
      parts.push_back(Value::from(s.substr(rest, end - rest)));
      return parts;
    }
    for (auto [b, e] : words) parts.push_back(Value::from(s.substr(b, e - b)));
    return parts;
  }
  const std::string& sep = need_str(sep_value, "split()").text;
  if (sep.empty()) throw InputError("split(): empty separator");
  std::vector<size_t> hits;
  for (size_t p = t.find(sep); p != std::string::npos; p = t.find(sep, p + sep.size())) hits.push_back(p);
  if (maxsplit >= 0 && hits.size() > static_cast<size_t>(maxsplit)) {
    if (from_right) hits.erase(hits.begin(), hits.end() - maxsplit);
    else hits.resize(static_cast<size_t>(maxsplit));
  }
  size_t start = 0;
  for (size_t h : hits) {
    parts.push_back(Value::from(s.substr(start, h - start)));
    start = h + sep.size();
  }
  parts.push_back(Value::from(s.substr(start)));
  return parts;
}

Str replace(Interpreter& in, const Str& s, const std::string& old, const Str& with, int64_t count) {
  Str out;
  size_t start = 0;
  int64_t done = 0;
  if (old.empty()) {
    auto cps = code_points(s.text);
    for (size_t i = 0; i + 1 < cps.size() && (count < 0 || done < count); ++i, ++done) {
      out.append(with);
      out.append(s.substr(cps[i], cps[i + 1] - cps[i]));
      start = cps[i + 1];
    }
    if (count < 0 || done < count) out.append(with);
    out.append(s.substr(start));
    in.check_size(out.text.size());
    return out;
  }
  for (size_t p = s.text.find(old); p != std::string::npos && (count < 0 || done < count); p = s.text.find(old, start), ++done) {
    out.append(s.substr(start, p - start));
    out.append(with);
    in.check_size(out.text.size());
    start = p + old.size();
  }
  out.append(s.substr(start));
  return out;
}

// Case mapping for ASCII, Latin-1, Latin Extended-A, Greek and Cyrillic: the mapped characters keep
// their UTF-8 length, so data spans stay aligned. Other scripts are left as they are.
uint32_t to_lower_cp(uint32_t c) {
  if ((c >= 'A' && c <= 'Z') || (c >= 0xC0 && c <= 0xDE && c != 0xD7) || (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) ||
      (c >= 0x410 && c <= 0x42F))
    return c + 0x20;
  if (c >= 0x400 && c <= 0x40F) return c + 0x50;
  if (c >= 0x100 && c <= 0x17F && c != 0x130 && c != 0x131 && c != 0x138 && c != 0x149 && c != 0x17F) {
    bool odd_upper = (c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E);
    if (odd_upper ? (c & 1) : !(c & 1)) return c + 1;
  }
  return c;
}
uint32_t to_upper_cp(uint32_t c) {
  if ((c >= 'a' && c <= 'z') || (c >= 0xE0 && c <= 0xFE && c != 0xF7) || (c >= 0x3B1 && c <= 0x3C9 && c != 0x3C2) ||
      (c >= 0x430 && c <= 0x44F))
    return c - 0x20;
  if (c >= 0x450 && c <= 0x45F) return c - 0x50;
  if (c >= 0x100 && c <= 0x17F && c != 0x130 && c != 0x131 && c != 0x138 && c != 0x149 && c != 0x17F) {
    bool odd_upper = (c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E);
    if (odd_upper ? !(c & 1) : (c & 1)) return c - 1;
  }
  return c;
}
bool is_cased(uint32_t c) { return to_lower_cp(c) != c || to_upper_cp(c) != c || c == 0xDF; }

Str map_case(const Str& s, int mode) {  // 0 lower, 1 upper, 2 title, 3 capitalize
  Str out = s;
  std::string& t = out.text;
  bool previous_cased = false;
  size_t index = 0;
  for (size_t i = 0; i < t.size(); ++index) {
    unsigned char lead = static_cast<unsigned char>(t[i]);
    size_t len = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    if (i + len > t.size()) len = 1;
    uint32_t cp = len == 1 ? lead : lead & (0x7F >> len);
    for (size_t k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(t[i + k]) & 0x3F);
    bool upper = mode == 1 || (mode == 2 && !previous_cased) || (mode == 3 && index == 0);
    uint32_t mapped = upper ? to_upper_cp(cp) : to_lower_cp(cp);
    previous_cased = is_cased(cp);
    if (mapped != cp) {
      if (len == 1) {
        t[i] = static_cast<char>(mapped);
      } else {  // two-byte sequences only, by construction of the tables
        t[i] = static_cast<char>(0xC0 | (mapped >> 6));
        t[i + 1] = static_cast<char>(0x80 | (mapped & 0x3F));
      }
    }
    i += len;
  }
  return out;
}

bool affix_match(const std::string& t, const Value& affix, bool prefix) {
  auto one = [&](const Value& a) {
    const std::string& x = need_str(a, prefix ? "startswith()" : "endswith()").text;
    return x.size() <= t.size() && (prefix ? t.compare(0, x.size(), x) == 0 : t.compare(t.size() - x.size(), x.size(), x) == 0);
  };
  if (affix.is_array()) return std::any_of(affix.array->begin(), affix.array->end(), one);
  return one(affix);
}

// Python str.format with {}, {0} and {name} fields (no format specs) and {{ }} escapes.
Str py_format(const Str& fmt, const Array& args, const Kwargs& kwargs) {
  Str out;
  const std::string& t = fmt.text;
  size_t auto_index = 0, literal_start = 0;
  for (size_t i = 0; i < t.size(); ++i) {
    if ((t[i] == '{' || t[i] == '}') && i + 1 < t.size() && t[i + 1] == t[i]) {
      out.append(fmt.substr(literal_start, i + 1 - literal_start));
      literal_start = i += 1;
      ++literal_start;
      continue;
    }
    if (t[i] != '{') continue;
    size_t close = t.find('}', i);
    if (close == std::string::npos) throw InputError("format(): unmatched '{'");
    out.append(fmt.substr(literal_start, i - literal_start));
    std::string field = t.substr(i + 1, close - i - 1);
    if (field.find(':') != std::string::npos || field.find('!') != std::string::npos)
      throw InputError("format(): format specs are not supported ('{" + field + "}')");
    Value v;
    if (field.empty()) {
      v = auto_index < args.size() ? args[auto_index++] : Value::undefined();
    } else if (std::all_of(field.begin(), field.end(), ::isdigit)) {
      size_t k = std::stoul(field);
      v = k < args.size() ? args[k] : Value::undefined();
    } else {
      v = arg({}, kwargs, 0, field.c_str());
    }
    if (v.is_undefined()) throw InputError("format(): no value for field '{" + field + "}'");
    out.append(to_str(v));
    literal_start = close + 1;
    i = close;
  }
  out.append(fmt.substr(literal_start));
  return out;
}

// printf-style `"%s" % x` / `|format`.
Str printf_format(const Str& fmt, const Array& args) {
  Str out;
  const std::string& t = fmt.text;
  size_t next = 0, literal_start = 0;
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i] != '%') continue;
    if (i + 1 >= t.size()) throw InputError("format: incomplete format");
    out.append(fmt.substr(literal_start, i - literal_start));
    char conv = t[i + 1];
    literal_start = i + 2;
    ++i;
    if (conv == '%') {
      out.append("%");
      continue;
    }
    if (next >= args.size()) throw InputError("format: not enough arguments for format string");
    const Value& v = args[next++];
    if (conv == 's') out.append(to_str(v));
    else if (conv == 'r') out.append(py_repr(v));
    else if (conv == 'd' || conv == 'i') out.append(std::to_string(static_cast<int64_t>(v.as_double())));
    else if (conv == 'f') {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%f", v.as_double());
      out.append(buf);
    } else {
      throw InputError(std::string("format: unsupported conversion '%") + conv + "'");
    }
  }
  out.append(fmt.substr(literal_start));
  return out;
}

// ---- containers --------------------------------------------------------------------------------

Value key_value(const Object& obj, const std::pair<std::string, Value>& entry) {
  Value key = Value::from(obj.from_data ? Str::data(entry.first, -1) : Str(entry.first));
  return Value::from(Array{key, entry.second});
}

// item.attr for selectattr/map/sort: dotted paths and integer indices, like Jinja's make_attrgetter.
Value attribute_of(const Value& item, const std::string& path) {
  Value v = item;
  size_t start = 0;
  while (start <= path.size()) {
    size_t dot = path.find('.', start);
    std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (part.rfind("_", 0) == 0) throw InputError("access to attribute '" + part + "' is not allowed");
    if (v.is_object()) {
      const Value* found = v.object->find(part);
      v = found ? *found : Value::undefined(part);
    } else if (v.is_array() && !part.empty() && std::all_of(part.begin(), part.end(), ::isdigit)) {
      v = get_item(v, Value::from(static_cast<int64_t>(std::stoll(part))));
    } else {
      return Value::undefined(part);
    }
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return v;
}

Value lowered(const Value& v, bool case_sensitive) {
  return v.is_string() && !case_sensitive ? Value::from(map_case(*v.str, 0)) : v;
}

Value sorted(Interpreter& in, const Value& seq, bool reverse, bool case_sensitive, const Value& attribute) {
  Array items = *iterate_items(seq).array;
  in.count_iterations(items.size());
  auto key = [&](const Value& v) {
    Value k = attribute.is_string() ? attribute_of(v, attribute.text()) : v;
    return lowered(k, case_sensitive);
  };
  std::stable_sort(items.begin(), items.end(), [&](const Value& a, const Value& b) {
    return reverse ? compare(key(b), key(a)) < 0 : compare(key(a), key(b)) < 0;
  });
  return Value::from(std::move(items));
}

double py_round(double x, int64_t digits) {
  double scale = std::pow(10.0, static_cast<double>(digits));
  double y = x * scale;
  double r = std::nearbyint(y);  // ties to even, as Python's round does
  return r / scale;
}

using FilterFn = Value (*)(Interpreter&, const Value&, Array&, Kwargs&);

Value f_trim(Interpreter&, const Value& v, Array& a, Kwargs& k) { return Value::from(strip(to_str(v), arg(a, k, 0, "chars", Value::none()), true, true)); }

Value f_tojson(Interpreter& in, const Value& v, Array& a, Kwargs& k) {
  JsonStyle style;
  style.ensure_ascii = arg(a, k, 0, "ensure_ascii", Value::from(false)).truthy();
  Value indent = arg(a, k, 1, "indent", Value::none());
  if (indent.is_string()) throw InputError("tojson: string indents are not supported");
  if (!indent.is_none() && !indent.is_undefined()) style.indent = static_cast<int>(std::max<int64_t>(0, to_int(indent, "tojson indent")));
  Value separators = arg(a, k, 2, "separators", Value::none());
  if (separators.is_array() && separators.array->size() == 2) {
    style.item_separator = need_str((*separators.array)[0], "tojson separators").text;
    style.key_separator = need_str((*separators.array)[1], "tojson separators").text;
  } else {
    style.item_separator = style.indent >= 0 ? "," : ", ";
    style.key_separator = ": ";
  }
  style.sort_keys = arg(a, k, 3, "sort_keys", Value::from(false)).truthy();
  std::string json = to_json(v, style);
  in.check_size(json.size());
  int label = data_label(v);
  return Value::from(label == -2 ? Str(std::move(json)) : Str::data(std::move(json), label));
}

Value f_length(Interpreter&, const Value& v, Array&, Kwargs&) {
  switch (v.kind) {
    case Value::Kind::String: return Value::from(static_cast<int64_t>(utf8_length(v.text())));
    case Value::Kind::Array: return Value::from(static_cast<int64_t>(v.array->size()));
    case Value::Kind::Object: return Value::from(static_cast<int64_t>(v.object->entries.size()));
    case Value::Kind::Undefined: return Value::from(int64_t{0});
    default: throw InputError(std::string("object of type '") + v.type_name() + "' has no len()");
  }
}

Value f_first(Interpreter&, const Value& v, Array&, Kwargs&) {
  Value items = iterate_items(v);
  return items.array->empty() ? Value::undefined("first") : items.array->front();
}
Value f_last(Interpreter&, const Value& v, Array&, Kwargs&) {
  Value items = iterate_items(v);
  return items.array->empty() ? Value::undefined("last") : items.array->back();
}

Value f_join(Interpreter& in, const Value& v, Array& a, Kwargs& k) {
  Str sep = to_str(arg(a, k, 0, "d", Value::from(std::string())));
  Value attribute = arg(a, k, 1, "attribute", Value::none());
  Str out;
  bool first = true;
  for (const Value& item : *iterate_items(v).array) {
    if (!first) out.append(sep);
    first = false;
    out.append(to_str(attribute.is_none() ? item : attribute_of(item, to_str(attribute).text)));
    in.check_size(out.text.size());
  }
  return Value::from(std::move(out));
}

Value f_replace(Interpreter& in, const Value& v, Array& a, Kwargs& k) {
  Value count = arg(a, k, 2, "count", Value::none());
  return Value::from(replace(in, to_str(v), to_str(arg(a, k, 0, "old")).text, to_str(arg(a, k, 1, "new")),
                             count.is_none() ? -1 : to_int(count, "replace count")));
}

Value f_upper(Interpreter&, const Value& v, Array&, Kwargs&) { return Value::from(map_case(to_str(v), 1)); }
Value f_lower(Interpreter&, const Value& v, Array&, Kwargs&) { return Value::from(map_case(to_str(v), 0)); }
Value f_title(Interpreter&, const Value& v, Array&, Kwargs&) { return Value::from(map_case(to_str(v), 2)); }
Value f_capitalize(Interpreter&, const Value& v, Array&, Kwargs&) { return Value::from(map_case(to_str(v), 3)); }

Value f_default(Interpreter&, const Value& v, Array& a, Kwargs& k) {
  bool boolean = arg(a, k, 1, "boolean", Value::from(false)).truthy();
  if (v.is_undefined() || (boolean && !v.truthy())) return arg(a, k, 0, "default_value", Value::from(std::string()));
  return v;
}

Value f_items(Interpreter&, const Value& v, Array&, Kwargs&) {
  if (v.is_undefined()) return Value::from(Array{});
  if (!v.is_object()) throw InputError(std::string("items: expected a mapping, got ") + v.type_name());
  Array out;
  for (const auto& e : v.object->entries) out.push_back(key_value(*v.object, e));
  return Value::from(std::move(out));
}

// select/reject/selectattr/rejectattr share one loop.
Value select(Interpreter& in, const Value& v, Array& a, bool by_attribute, bool keep) {
  size_t test_pos = by_attribute ? 1 : 0;
  std::string attribute = by_attribute ? to_str(a.at(0)).text : "";
  Array out;
  for (const Value& item : *iterate_items(v).array) {
    in.count_iterations(1);
    Value subject = by_attribute ? attribute_of(item, attribute) : item;
    bool pass;
    if (a.size() <= test_pos) {
      pass = subject.truthy();
    } else {
      Array test_args(a.begin() + static_cast<std::ptrdiff_t>(test_pos) + 1, a.end());
      pass = in.test(to_str(a[test_pos]).text, subject, test_args);
    }
    if (pass == keep) out.push_back(item);
  }
  return Value::from(std::move(out));
}
Value f_select(Interpreter& in, const Value& v, Array& a, Kwargs&) { return select(in, v, a, false, true); }
Value f_reject(Interpreter& in, const Value& v, Array& a, Kwargs&) { return select(in, v, a, false, false); }
Value f_selectattr(Interpreter& in, const Value& v, Array& a, Kwargs&) {
  if (a.empty()) throw InputError("selectattr needs an attribute name");
  return select(in, v, a, true, true);
}
Value f_rejectattr(Interpreter& in, const Value& v, Array& a, Kwargs&) {
  if (a.empty()) throw InputError("rejectattr needs an attribute name");
  return select(in, v, a, true, false);
}

Value f_map(Interpreter& in, const Value& v, Array& a, Kwargs& k) {
  Array out;
  Value attribute = arg({}, k, 0, "attribute");
  for (const Value& item : *iterate_items(v).array) {
    in.count_iterations(1);
    if (!attribute.is_undefined()) {
      Value got = attribute_of(item, to_str(attribute).text);
      if (got.is_undefined()) got = arg({}, k, 0, "default", got);
      out.push_back(got);
    } else {
      if (a.empty()) throw InputError("map needs a filter name or attribute=");
      Array rest(a.begin() + 1, a.end());
      Kwargs none;
      out.push_back(in.filter(to_str(a[0]).text, item, rest, none));
    }
  }
  return Value::from(std::move(out));
}

Value f_list(Interpreter&, const Value& v, Array&, Kwargs&) { return Value::from(*iterate_items(v).array); }
Value f_string(Interpreter&, const Value& v, Array&, Kwargs&) { return Value::from(to_str(v)); }

Value f_int(Interpreter&, const Value& v, Array& a, Kwargs& k) {
  Value fallback = arg(a, k, 0, "default", Value::from(int64_t{0}));
  int64_t base = to_int(arg(a, k, 1, "base", Value::from(int64_t{10})), "int base");
  if (v.kind == Value::Kind::Int) return v;
  if (v.kind == Value::Kind::Bool) return Value::from(static_cast<int64_t>(v.boolean));
  if (v.kind == Value::Kind::Float) return std::isfinite(v.number) ? Value::from(static_cast<int64_t>(v.number)) : fallback;
  if (v.is_string()) {
    std::string t = strip(*v.str, Value::none(), true, true).text;
    t.erase(std::remove(t.begin(), t.end(), '_'), t.end());
    try {
      size_t used = 0;
      int64_t n = std::stoll(t, &used, static_cast<int>(base));
      if (used == t.size()) return Value::from(n);
    } catch (...) {
    }
    try {
      size_t used = 0;
      double d = std::stod(t, &used);
      if (used == t.size() && std::isfinite(d)) return Value::from(static_cast<int64_t>(d));
    } catch (...) {
    }
  }
  return fallback;
}

Value f_float(Interpreter&, const Value& v, Array& a, Kwargs& k) {
  Value fallback = arg(a, k, 0, "default", Value::from(0.0));
  if (v.is_number()) return Value::from(v.as_double());
  if (v.is_string()) {
    std::string t = strip(*v.str, Value::none(), true, true).text;
    try {
      size_t used = 0;
      double d = std::stod(t, &used);
      if (used == t.size()) return Value::from(d);
    } catch (...) {
    }
  }
  return fallback;
}

Value f_round(Interpreter&, const Value& v, Array& a, Kwargs& k) {
  int64_t precision = to_int(arg(a, k, 0, "precision", Value::from(int64_t{0})), "round precision");
  std::string method = to_str(arg(a, k, 1, "method", Value::from(std::string("common")))).text;
  if (!v.is_number()) throw InputError(std::string("round: expected a number, got ") + v.type_name());
  double scale = std::pow(10.0, static_cast<double>(precision));
  if (method == "floor") return Value::from(std::floor(v.as_double() * scale) / scale);
  if (method == "ceil") return Value::from(std::ceil(v.as_double() * scale) / scale);
  if (method != "common") throw InputError("round: method must be common, floor or ceil");
  if (v.kind != Value::Kind::Float) return Value::from(static_cast<int64_t>(v.as_double()));
  return Value::from(py_round(v.number, precision));
}

Value f_unique(Interpreter& in, const Value& v, Array& a, Kwargs& k) {
  bool case_sensitive = arg(a, k, 0, "case_sensitive", Value::from(false)).truthy();
  Value attribute = arg(a, k, 1, "attribute", Value::none());
  Array out, seen;
  for (const Value& item : *iterate_items(v).array) {
    in.count_iterations(seen.size() + 1);
    Value key = lowered(attribute.is_string() ? attribute_of(item, attribute.text()) : item, case_sensitive);
    if (std::none_of(seen.begin(), seen.end(), [&](const Value& s) { return equals(s, key); })) {
      seen.push_back(key);
      out.push_back(item);
    }
  }
  return Value::from(std::move(out));
}

Value f_dictsort(Interpreter& in, const Value& v, Array& a, Kwargs& k) {
  if (!v.is_object()) throw InputError(std::string("dictsort: expected a mapping, got ") + v.type_name());
  bool case_sensitive = arg(a, k, 0, "case_sensitive", Value::from(false)).truthy();
  std::string by = to_str(arg(a, k, 1, "by", Value::from(std::string("key")))).text;
  bool reverse = arg(a, k, 2, "reverse", Value::from(false)).truthy();
  Array pairs;
  for (const auto& e : v.object->entries) pairs.push_back(key_value(*v.object, e));
  Value index = Value::from(std::string(by == "value" ? "1" : "0"));
  return sorted(in, Value::from(std::move(pairs)), reverse, case_sensitive, index);
}

Value f_sort(Interpreter& in, const Value& v, Array& a, Kwargs& k) {
  return sorted(in, v, arg(a, k, 0, "reverse", Value::from(false)).truthy(), arg(a, k, 1, "case_sensitive", Value::from(false)).truthy(),
                arg(a, k, 2, "attribute", Value::none()));
}

Value f_reverse(Interpreter&, const Value& v, Array&, Kwargs&) {
  if (v.is_string()) return slice(v, Value::none(), Value::none(), Value::from(int64_t{-1}));
  Array items = *iterate_items(v).array;
  std::reverse(items.begin(), items.end());
  return Value::from(std::move(items));
}

Value f_abs(Interpreter&, const Value& v, Array&, Kwargs&) {
  if (v.kind == Value::Kind::Float) return Value::from(std::fabs(v.number));
  if (v.is_number()) return Value::from(static_cast<int64_t>(std::llabs(v.kind == Value::Kind::Bool ? v.boolean : v.integer)));
  throw InputError(std::string("abs: expected a number, got ") + v.type_name());
}

Value f_sum(Interpreter&, const Value& v, Array& a, Kwargs& k) {
  Value attribute = arg(a, k, 0, "attribute", Value::none());
  Value total = arg(a, k, 1, "start", Value::from(int64_t{0}));
  for (const Value& item : *iterate_items(v).array) {
    Value x = attribute.is_string() ? attribute_of(item, attribute.text()) : item;
    if (!x.is_number() || !total.is_number()) throw InputError("sum: items must be numbers");
    if (x.kind == Value::Kind::Float || total.kind == Value::Kind::Float) total = Value::from(total.as_double() + x.as_double());
    else total = Value::from(static_cast<int64_t>(total.as_double()) + static_cast<int64_t>(x.as_double()));
  }
  return total;
}

Value extreme(Interpreter& in, const Value& v, Array& a, Kwargs& k, bool want_max) {
  Value s = sorted(in, v, want_max, arg(a, k, 0, "case_sensitive", Value::from(false)).truthy(), arg(a, k, 1, "attribute", Value::none()));
  return s.array->empty() ? Value::undefined(want_max ? "max" : "min") : s.array->front();
}
Value f_min(Interpreter& in, const Value& v, Array& a, Kwargs& k) { return extreme(in, v, a, k, false); }
Value f_max(Interpreter& in, const Value& v, Array& a, Kwargs& k) { return extreme(in, v, a, k, true); }

Value f_indent(Interpreter&, const Value& v, Array& a, Kwargs& k) {
  Value width = arg(a, k, 0, "width", Value::from(int64_t{4}));
  Str pad = width.is_string() ? *width.str : Str(std::string(static_cast<size_t>(std::max<int64_t>(0, to_int(width, "indent width"))), ' '));
  bool first = arg(a, k, 1, "first", Value::from(false)).truthy();
  bool blank = arg(a, k, 2, "blank", Value::from(false)).truthy();
  Str s = to_str(v), out;
  size_t start = 0;
  bool first_line = true;
  while (start <= s.text.size()) {
    size_t nl = s.text.find('\n', start);
    size_t end = nl == std::string::npos ? s.text.size() : nl;
    Str line = s.substr(start, end - start);
    bool is_blank = strip(line, Value::none(), true, true).text.empty();
    if ((first_line ? first : true) && (blank || !is_blank)) out.append(pad);
    out.append(line);
    if (nl == std::string::npos) break;
    out.append("\n");
    start = nl + 1;
    first_line = false;
  }
  return Value::from(std::move(out));
}

Value f_wordcount(Interpreter&, const Value& v, Array&, Kwargs&) {
  int64_t n = 0;
  bool in_word = false;
  for (unsigned char c : to_str(v).text) {
    bool w = std::isalnum(c) || c == '_' || c >= 0x80;
    if (w && !in_word) ++n;
    in_word = w;
  }
  return Value::from(n);
}

Value f_safe(Interpreter&, const Value& v, Array&, Kwargs&) { return v; }

Value f_escape(Interpreter&, const Value& v, Array&, Kwargs&) {
  Str s = to_str(v), out;
  size_t start = 0;
  for (size_t i = 0; i < s.text.size(); ++i) {
    const char* rep = nullptr;
    switch (s.text[i]) {
      case '&': rep = "&amp;"; break;
      case '<': rep = "&lt;"; break;
      case '>': rep = "&gt;"; break;
      case '"': rep = "&#34;"; break;
      case '\'': rep = "&#39;"; break;
      default: continue;
    }
    out.append(s.substr(start, i - start));
    out.append(rep);
    start = i + 1;
  }
  out.append(s.substr(start));
  return Value::from(std::move(out));
}

Value f_format(Interpreter&, const Value& v, Array& a, Kwargs&) { return Value::from(printf_format(to_str(v), a)); }

Value f_attr(Interpreter&, const Value& v, Array& a, Kwargs&) {
  if (a.empty()) throw InputError("attr needs a name");
  return attribute_of(v, to_str(a[0]).text);
}

Value f_center(Interpreter&, const Value& v, Array& a, Kwargs& k) {
  Str s = to_str(v);
  int64_t width = to_int(arg(a, k, 0, "width", Value::from(int64_t{80})), "center width");
  int64_t len = static_cast<int64_t>(utf8_length(s.text));
  if (width <= len) return Value::from(std::move(s));
  int64_t total = width - len, left = total / 2 + (total & width & 1);
  Str out(std::string(static_cast<size_t>(left), ' '));
  out.append(s);
  out.append(std::string(static_cast<size_t>(total - left), ' '));
  return Value::from(std::move(out));
}

const std::vector<std::pair<std::string, FilterFn>>& filters() {
  static const std::vector<std::pair<std::string, FilterFn>> table = {
      {"trim", f_trim},       {"tojson", f_tojson},         {"length", f_length},       {"count", f_length},
      {"first", f_first},     {"last", f_last},             {"join", f_join},           {"replace", f_replace},
      {"upper", f_upper},     {"lower", f_lower},           {"title", f_title},         {"capitalize", f_capitalize},
      {"default", f_default}, {"d", f_default},             {"items", f_items},         {"select", f_select},
      {"reject", f_reject},   {"selectattr", f_selectattr}, {"rejectattr", f_rejectattr}, {"map", f_map},
      {"list", f_list},       {"string", f_string},         {"int", f_int},             {"float", f_float},
      {"round", f_round},     {"unique", f_unique},         {"dictsort", f_dictsort},   {"sort", f_sort},
      {"reverse", f_reverse}, {"abs", f_abs},               {"sum", f_sum},             {"min", f_min},
      {"max", f_max},         {"indent", f_indent},         {"wordcount", f_wordcount}, {"safe", f_safe},
      {"escape", f_escape},   {"e", f_escape},              {"forceescape", f_escape},  {"format", f_format},
      {"attr", f_attr},       {"center", f_center},
  };
  return table;
}

// ---- tests -------------------------------------------------------------------------------------

bool run_test(Interpreter&, const std::string& name, const Value& v, Array& a) {
  auto operand = [&]() -> const Value& {
    if (a.empty()) throw InputError("test '" + name + "' needs an argument");
    return a[0];
  };
  if (name == "defined") return !v.is_undefined();
  if (name == "undefined") return v.is_undefined();
  if (name == "none") return v.is_none();
  if (name == "boolean") return v.kind == Value::Kind::Bool;
  if (name == "true") return v.kind == Value::Kind::Bool && v.boolean;
  if (name == "false") return v.kind == Value::Kind::Bool && !v.boolean;
  if (name == "integer") return v.kind == Value::Kind::Int;
  if (name == "float") return v.kind == Value::Kind::Float;
  if (name == "number") return v.is_number();
  if (name == "string") return v.is_string();
  if (name == "mapping") return v.is_object() && !v.object->is_namespace;
  if (name == "iterable") return v.is_string() || v.is_array() || v.is_object() || v.is_undefined();
  if (name == "sequence") return v.is_string() || v.is_array() || v.is_object() || v.is_undefined();
  if (name == "callable") return v.kind == Value::Kind::Callable;
  if (name == "escaped") return false;
  if (name == "sameas") return v.kind == operand().kind && equals(v, operand());
  if (name == "eq" || name == "equalto" || name == "==") return equals(v, operand());
  if (name == "ne" || name == "!=") return !equals(v, operand());
  if (name == "lt" || name == "lessthan" || name == "<") return compare(v, operand()) < 0;
  if (name == "le" || name == "<=") return compare(v, operand()) <= 0;
  if (name == "gt" || name == "greaterthan" || name == ">") return compare(v, operand()) > 0;
  if (name == "ge" || name == ">=") return compare(v, operand()) >= 0;
  if (name == "in") {
    const Value& seq = operand();
    if (seq.is_string()) return v.is_string() && seq.text().find(v.text()) != std::string::npos;
    if (seq.is_object()) return v.is_string() && seq.object->find(v.text());
    return std::any_of(iterate_items(seq).array->begin(), iterate_items(seq).array->end(), [&](const Value& x) { return equals(x, v); });
  }
  if (name == "lower" || name == "upper") {
    std::string t = to_str(v).text;
    bool cased = false;
    for (unsigned char c : t) {
      if (std::isalpha(c)) cased = true;
      if (name == "lower" ? std::isupper(c) : std::islower(c)) return false;
    }
    return cased;
  }
  if (name == "odd" || name == "even" || name == "divisibleby") {
    int64_t n = to_int(v, ("test " + name).c_str());
    if (name == "odd") return n % 2 != 0;
    if (name == "even") return n % 2 == 0;
    int64_t d = to_int(operand(), "divisibleby");
    if (d == 0) throw InputError("divisibleby 0");
    return n % d == 0;
  }
  throw InputError("unsupported test '" + name + "'");
}

const std::set<std::string>& test_names() {
  static const std::set<std::string> names = {
      "defined", "undefined", "none", "boolean", "true", "false", "integer", "float", "number", "string",
      "mapping", "iterable", "sequence", "callable", "escaped", "sameas", "eq", "equalto", "==", "ne", "!=",
      "lt", "lessthan", "<", "le", "<=", "gt", "greaterthan", ">", "ge", ">=", "in", "lower", "upper",
      "odd", "even", "divisibleby"};
  return names;
}

// ---- methods -----------------------------------------------------------------------------------

const std::set<std::string>& string_methods() {
  static const std::set<std::string> names = {
      "startswith", "endswith", "split", "rsplit", "strip", "lstrip", "rstrip", "upper", "lower", "replace",
      "format", "title", "capitalize", "find", "rfind", "count", "join", "isdigit", "isalpha", "isalnum",
      "isspace", "isupper", "islower", "splitlines", "removeprefix", "removesuffix"};
  return names;
}
const std::set<std::string>& dict_methods() {
  static const std::set<std::string> names = {"items", "keys", "values", "get"};
  return names;
}

Value string_method(Interpreter& in, const Value& self, const std::string& name, Array& a, Kwargs& k) {
  const Str& s = *self.str;
  const std::string& t = s.text;
  if (name == "startswith" || name == "endswith") return Value::from(affix_match(t, arg(a, k, 0, "prefix"), name == "startswith"));
  if (name == "split" || name == "rsplit") {
    Value maxsplit = arg(a, k, 1, "maxsplit", Value::from(int64_t{-1}));
    return Value::from(split(s, arg(a, k, 0, "sep", Value::none()), to_int(maxsplit, "maxsplit"), name == "rsplit"));
  }
  if (name == "strip" || name == "lstrip" || name == "rstrip")
    return Value::from(strip(s, arg(a, k, 0, "chars", Value::none()), name != "rstrip", name != "lstrip"));
  if (name == "upper") return Value::from(map_case(s, 1));
  if (name == "lower") return Value::from(map_case(s, 0));
  if (name == "title") return Value::from(map_case(s, 2));
  if (name == "capitalize") return Value::from(map_case(s, 3));
  if (name == "replace") {
    Value count = arg(a, k, 2, "count", Value::from(int64_t{-1}));
    return Value::from(replace(in, s, need_str(arg(a, k, 0, "old"), "replace()").text, need_str(arg(a, k, 1, "new"), "replace()"),
                               to_int(count, "replace count")));
  }
  if (name == "format") return Value::from(py_format(s, a, k));
  if (name == "find" || name == "rfind" || name == "count") {
    const std::string& sub = need_str(arg(a, k, 0, "sub"), name.c_str()).text;
    if (name == "count") {
      if (sub.empty()) return Value::from(static_cast<int64_t>(utf8_length(t) + 1));
      int64_t n = 0;
      for (size_t p = t.find(sub); p != std::string::npos; p = t.find(sub, p + sub.size())) ++n;
      return Value::from(n);
    }
    size_t p = name == "find" ? t.find(sub) : t.rfind(sub);
    return Value::from(p == std::string::npos ? int64_t{-1} : cp_index(t, p));
  }
  if (name == "join") {
    Str out;
    bool first = true;
    for (const Value& item : *iterate_items(arg(a, k, 0, "iterable")).array) {
      if (!first) out.append(s);
      first = false;
      out.append(need_str(item, "join()"));
      in.check_size(out.text.size());
    }
    return Value::from(std::move(out));
  }
  if (name == "removeprefix" || name == "removesuffix") {
    const std::string& x = need_str(arg(a, k, 0, "affix"), name.c_str()).text;
    if (name == "removeprefix") return Value::from(t.rfind(x, 0) == 0 ? s.substr(x.size()) : s);
    bool ends = x.size() <= t.size() && t.compare(t.size() - x.size(), x.size(), x) == 0;
    return Value::from(ends ? s.substr(0, t.size() - x.size()) : s);
  }
  if (name == "splitlines") {
    Array lines;
    size_t start = 0;
    for (size_t i = 0; i < t.size(); ++i) {
      if (t[i] == '\n' || t[i] == '\r') {
        lines.push_back(Value::from(s.substr(start, i - start)));
        if (t[i] == '\r' && i + 1 < t.size() && t[i + 1] == '\n') ++i;
        start = i + 1;
      }
    }
    if (start < t.size()) lines.push_back(Value::from(s.substr(start)));
    return Value::from(std::move(lines));
  }
  auto all = [&](auto pred) {
    return !t.empty() && std::all_of(t.begin(), t.end(), [&](char c) { return pred(static_cast<unsigned char>(c)); });
  };
  if (name == "isdigit") return Value::from(all([](unsigned char c) { return std::isdigit(c) != 0; }));
  if (name == "isalpha") return Value::from(all([](unsigned char c) { return std::isalpha(c) != 0; }));
  if (name == "isalnum") return Value::from(all([](unsigned char c) { return std::isalnum(c) != 0; }));
  if (name == "isspace") return Value::from(all([](unsigned char c) { return is_py_space(c); }));
  Array none;
  return Value::from(run_test(in, name == "isupper" ? "upper" : "lower", self, none));
}

}  // namespace

bool is_known_filter(const std::string& name) {
  for (const auto& [n, f] : filters())
    if (n == name) return true;
  return false;
}
bool is_known_test(const std::string& name) { return test_names().count(name) > 0; }

Value apply_filter(Interpreter& in, const std::string& name, const Value& value, Array& args, Kwargs& kwargs) {
  for (const auto& [n, f] : filters())
    if (n == name) return f(in, value, args, kwargs);
  throw InputError("unsupported filter '" + name + "'");
}

bool apply_test(Interpreter& in, const std::string& name, const Value& value, Array& args) {
  return run_test(in, name, value, args);
}

bool has_method(const Value& object, const std::string& name) {
  if (object.is_string()) return string_methods().count(name) > 0;
  if (object.is_object() && !object.object->is_namespace) return dict_methods().count(name) > 0 && !object.object->find(name);
  return false;
}

Value call_method(Interpreter& in, const Value& object, const std::string& name, Array& args, Kwargs& kwargs) {
  if (object.is_string()) return string_method(in, object, name, args, kwargs);
  const Object& obj = *object.object;
  in.count_iterations(obj.entries.size());
  if (name == "get") {
    Value key = arg(args, kwargs, 0, "key");
    const Value* found = key.is_string() ? obj.find(key.text()) : nullptr;
    return found ? *found : arg(args, kwargs, 1, "default", Value::none());
  }
  Array out;
  for (const auto& e : obj.entries) {
    if (name == "items") out.push_back(key_value(obj, e));
    else if (name == "keys") out.push_back((*key_value(obj, e).array)[0]);
    else out.push_back(e.second);
  }
  return Value::from(std::move(out));
}

Value iterate_items(const Value& v) {
  switch (v.kind) {
    case Value::Kind::Array: return v;
    case Value::Kind::Undefined: return Value::from(Array{});
    case Value::Kind::Object: {
      Array keys;
      for (const auto& e : v.object->entries) keys.push_back((*key_value(*v.object, e).array)[0]);
      return Value::from(std::move(keys));
    }
    case Value::Kind::String: {
      Array chars;
      auto cps = code_points(v.text());
      for (size_t i = 0; i + 1 < cps.size(); ++i) chars.push_back(Value::from(v.str->substr(cps[i], cps[i + 1] - cps[i])));
      return Value::from(std::move(chars));
    }
    default: throw InputError(std::string("'") + v.type_name() + "' object is not iterable");
  }
}

Value get_item(const Value& object, const Value& key) {
  if (object.is_object()) {
    if (!key.is_string()) return Value::undefined(py_repr(key));
    const Value* found = object.object->find(key.text());
    return found ? *found : Value::undefined(key.text());
  }
  if (object.is_array() || object.is_string()) {
    if (key.kind != Value::Kind::Int && key.kind != Value::Kind::Bool) return Value::undefined(py_repr(key));
    int64_t i = key.kind == Value::Kind::Bool ? key.boolean : key.integer;
    if (object.is_array()) {
      int64_t n = static_cast<int64_t>(object.array->size());
      if (i < 0) i += n;
      return i >= 0 && i < n ? (*object.array)[static_cast<size_t>(i)] : Value::undefined("index " + std::to_string(i));
    }
    auto cps = code_points(object.text());
    int64_t n = static_cast<int64_t>(cps.size()) - 1;
    if (i < 0) i += n;
    if (i < 0 || i >= n) return Value::undefined("index " + std::to_string(i));
    return Value::from(object.str->substr(cps[static_cast<size_t>(i)], cps[static_cast<size_t>(i) + 1] - cps[static_cast<size_t>(i)]));
  }
  return Value::undefined(py_repr(key));
}

Value slice(const Value& object, const Value& start_v, const Value& stop_v, const Value& step_v) {
  if (!object.is_array() && !object.is_string())
    throw InputError(std::string("'") + object.type_name() + "' object is not subscriptable");
  auto cps = object.is_string() ? code_points(object.text()) : std::vector<size_t>{};
  int64_t n = object.is_array() ? static_cast<int64_t>(object.array->size()) : static_cast<int64_t>(cps.size()) - 1;
  int64_t step = step_v.is_none() ? 1 : to_int(step_v, "slice step");
  if (step == 0) throw InputError("slice step cannot be zero");
  // Python's slice.indices().
  auto clamp = [&](const Value& v, int64_t dflt) {
    if (v.is_none()) return dflt;
    int64_t i = to_int(v, "slice index");
    if (i < 0) i += n;
    if (step > 0) return std::clamp<int64_t>(i, 0, n);
    return std::clamp<int64_t>(i, -1, n - 1);
  };
  int64_t start = clamp(start_v, step > 0 ? 0 : n - 1), stop = clamp(stop_v, step > 0 ? n : -1);
  std::vector<int64_t> picks;
  for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) picks.push_back(i);
  if (object.is_array()) {
    Array out;
    for (int64_t i : picks) out.push_back((*object.array)[static_cast<size_t>(i)]);
    return Value::from(std::move(out));
  }
  Str out;
  if (step == 1 && !picks.empty()) return Value::from(object.str->substr(cps[static_cast<size_t>(start)], cps[static_cast<size_t>(stop)] - cps[static_cast<size_t>(start)]));
  for (int64_t i : picks) out.append(object.str->substr(cps[static_cast<size_t>(i)], cps[static_cast<size_t>(i) + 1] - cps[static_cast<size_t>(i)]));
  return Value::from(std::move(out));
}

Variables global_functions() {
  Variables g;
  g.emplace_back("range", Value::from(Callable{"range", [](Interpreter& in, Array& a, Kwargs&) {
    if (a.empty() || a.size() > 3) throw InputError("range() takes 1 to 3 arguments");
    int64_t start = 0, stop, step = 1;
    if (a.size() == 1) {
      stop = to_int(a[0], "range()");
    } else {
      start = to_int(a[0], "range()");
      stop = to_int(a[1], "range()");
      if (a.size() == 3) step = to_int(a[2], "range()");
    }
    if (step == 0) throw InputError("range() step must not be zero");
    int64_t count = step > 0 ? (stop > start ? (stop - start + step - 1) / step : 0) : (start > stop ? (start - stop - step - 1) / -step : 0);
    if (count > 100000) throw InputError("range() too big (more than 100000 items)");  // Jinja's sandbox limit
    in.count_iterations(static_cast<size_t>(count));
    Array out;
    for (int64_t i = 0; i < count; ++i) out.push_back(Value::from(start + i * step));
    return Value::from(std::move(out));
  }}));
  auto make_dict = [](bool is_namespace) {
    return [is_namespace](Interpreter&, Array& a, Kwargs& k) {
      auto obj = std::make_shared<Object>();
      obj->is_namespace = is_namespace;
      for (const Value& init : a) {
        if (!init.is_object()) throw InputError("namespace()/dict() positional argument must be a mapping");
        for (const auto& e : init.object->entries) obj->set(e.first, e.second);
      }
      for (const auto& [key, value] : k) {
        if (is_namespace && key.rfind("_", 0) == 0) throw InputError("namespace attribute '" + key + "' must not start with '_'");
        obj->set(key, value);
      }
      return Value::from(obj);
    };
  };
  g.emplace_back("namespace", Value::from(Callable{"namespace", make_dict(true)}));
  g.emplace_back("dict", Value::from(Callable{"dict", make_dict(false)}));
  g.emplace_back("raise_exception", Value::from(Callable{"raise_exception", [](Interpreter&, Array& a, Kwargs&) -> Value {
    throw InputError("template raised an exception: " + (a.empty() ? std::string() : to_str(a[0]).text));
  }}));
  g.emplace_back("strftime_now", Value::from(Callable{"strftime_now", [](Interpreter&, Array& a, Kwargs&) {
    std::string format = a.empty() ? std::string() : to_str(a[0]).text;
    std::time_t now = std::time(nullptr);
    std::tm local{};
    localtime_r(&now, &local);
    char buf[256];
    size_t n = std::strftime(buf, sizeof buf, format.c_str(), &local);
    return Value::from(std::string(buf, n));
  }}));
  return g;
}

}  // namespace tailor::data::jinja
