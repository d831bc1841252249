#include "data/pipeline/record_parser.h"

#include <nlohmann/json.hpp>

namespace tailor::data {
namespace {

using json = nlohmann::json;

// Thrown inside conversion only, turned into a BadItem at the boundary.
struct Reject {
  BadReason reason;
  std::string what;
};

const char* type_name(const json& value) { return value.type_name(); }

const json& field(const json& object, const std::string& key, const char* where_in) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null())
    throw Reject{BadReason::MissingField, std::string("missing field '") + key + "'" + where_in};
  return *it;
}

std::string string_field(const json& object, const std::string& key, const char* where_in = "") {
  const json& value = field(object, key, where_in);
  if (!value.is_string())
    throw Reject{BadReason::WrongType,
                 std::string("field '") + key + "'" + where_in + " is " + type_name(value) + ", expected a string"};
  return value.get<std::string>();
}

std::string optional_string(const json& object, const std::string& key) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return {};
  if (!it->is_string())
    throw Reject{BadReason::WrongType, "field '" + key + "' is " + type_name(*it) + ", expected a string"};
  return it->get<std::string>();
}

// OpenAI content may also be a list of parts; the text parts are joined.
std::string content_text(const json& value, const std::string& key) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_array()) {
    std::string text;
    for (const json& part : value) {
      if (!part.is_object() || !part.contains("text") || !part["text"].is_string())
        throw Reject{BadReason::WrongType, "field '" + key + "' holds a part without a string 'text'"};
      text += part["text"].get<std::string>();
    }
    return text;
  }
  throw Reject{BadReason::WrongType, "field '" + key + "' is " + std::string(type_name(value)) + ", expected a string"};
}

std::string normalize_role(const std::string& role, bool sharegpt) {
  if (role == "system" || role == "user" || role == "assistant" || role == "tool") return role;
  if (sharegpt) {
    if (role == "human") return "user";
    if (role == "gpt") return "assistant";
  }
  throw Reject{BadReason::UnknownRole,
               "unknown role '" + role + "' (expected " +
                   (sharegpt ? "system, human, gpt, user, assistant or tool" : "system, user, assistant or tool") + ")"};
}

}  // namespace

const char* format_name(SourceFormat format) {
  switch (format) {
    case SourceFormat::Auto: return "auto";
    case SourceFormat::Messages: return "messages";
    case SourceFormat::ShareGpt: return "sharegpt";
    case SourceFormat::Alpaca: return "alpaca";
    case SourceFormat::Completion: return "completion";
    case SourceFormat::Text: return "text";
  }
  return "?";
}

const std::vector<std::string>& column_names() {
  static const std::vector<std::string> names = {"messages", "role", "content", "conversations", "from", "value",
                                                  "instruction", "input", "output", "system", "prompt",
                                                  "completion", "text"};
  return names;
}

RecordParser::RecordParser(SourceFormat format, ColumnMap columns) : format_(format), columns_(std::move(columns)) {}

std::string RecordParser::column(const char* canonical) const {
  auto it = columns_.find(canonical);
  return it == columns_.end() ? canonical : it->second;
}

SourceFormat RecordParser::detect(const json& object) const {
  if (!object.is_object()) return SourceFormat::Auto;
  if (object.contains(column("messages"))) return SourceFormat::Messages;
  if (object.contains(column("conversations"))) return SourceFormat::ShareGpt;
  if (object.contains(column("instruction")) && object.contains(column("output"))) return SourceFormat::Alpaca;
  if (object.contains(column("prompt")) && object.contains(column("completion"))) return SourceFormat::Completion;
  if (object.contains(column("text"))) return SourceFormat::Text;
  return SourceFormat::Auto;
}

std::variant<Record, BadItem> RecordParser::parse_json(std::string_view body, const std::string& where,
                                                       int max_depth) const {
  auto bad = [&](BadReason reason, const std::string& what) {
    return BadItem{reason, where + ": " + what + " (format: " + format_name(format_) + ")"};
  };
  if (!valid_utf8(body)) return bad(BadReason::InvalidUtf8, "invalid UTF-8");
  if (json_depth(body, max_depth) > max_depth)
    return bad(BadReason::TooDeep, "JSON nested deeper than " + std::to_string(max_depth) + " levels");
  json object = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (object.is_discarded()) return bad(BadReason::MalformedJson, "malformed JSON");
  if (!object.is_object()) return bad(BadReason::WrongType, std::string("a record is ") + object.type_name() + ", expected an object");
  return convert(object, where);
}

std::variant<Record, BadItem> RecordParser::parse_text(std::string_view body, const std::string& where) const {
  if (!valid_utf8(body)) return BadItem{BadReason::InvalidUtf8, where + ": invalid UTF-8 (format: text)"};
  Record record;
  record.kind = Record::Kind::Text;
  record.text = std::string(body);
  return record;
}

std::variant<Record, BadItem> RecordParser::convert(const json& object, const std::string& where) const {
  try {
    Record record;
    switch (format_) {
      case SourceFormat::Messages:
      case SourceFormat::ShareGpt: {
        bool sharegpt = format_ == SourceFormat::ShareGpt;
        std::string list_key = column(sharegpt ? "conversations" : "messages");
        std::string role_key = column(sharegpt ? "from" : "role");
        std::string content_key = column(sharegpt ? "value" : "content");
        const json& list = field(object, list_key, "");
        if (!list.is_array())
          throw Reject{BadReason::WrongType, "field '" + list_key + "' is " + type_name(list) + ", expected an array"};
        if (list.empty()) throw Reject{BadReason::EmptyRecord, "field '" + list_key + "' is empty"};
        record.kind = Record::Kind::Chat;
        for (size_t i = 0; i < list.size(); ++i) {
          const json& turn = list[i];
          std::string in = " in " + list_key + "[" + std::to_string(i) + "]";
          if (!turn.is_object())
            throw Reject{BadReason::WrongType, list_key + "[" + std::to_string(i) + "] is " + type_name(turn) + ", expected an object"};
          Message message;
          message.role = normalize_role(string_field(turn, role_key, in.c_str()), sharegpt);
          message.content = content_text(field(turn, content_key, in.c_str()), content_key + "'" + in + "'");
          record.messages.push_back(std::move(message));
        }
        bool has_assistant = false;
        for (const auto& m : record.messages) has_assistant = has_assistant || m.role == "assistant";
        if (!has_assistant) throw Reject{BadReason::MissingField, "conversation has no assistant turn"};
        break;
      }
      case SourceFormat::Alpaca: {
        std::string system = optional_string(object, column("system"));
        std::string instruction = string_field(object, column("instruction"));
        std::string input = optional_string(object, column("input"));
        std::string output = string_field(object, column("output"));
        record.kind = Record::Kind::Chat;
        if (!system.empty()) record.messages.push_back({"system", system});
        record.messages.push_back({"user", input.empty() ? instruction : instruction + "\n\n" + input});
        record.messages.push_back({"assistant", output});
        break;
      }
      case SourceFormat::Completion:
        record.kind = Record::Kind::Completion;
        record.prompt = string_field(object, column("prompt"));
        record.completion = string_field(object, column("completion"));
        if (record.completion.empty()) throw Reject{BadReason::EmptyRecord, "field '" + column("completion") + "' is empty"};
        break;
      case SourceFormat::Text:
        record.kind = Record::Kind::Text;
        record.text = string_field(object, column("text"));
        if (record.text.empty()) throw Reject{BadReason::EmptyRecord, "field '" + column("text") + "' is empty"};
        break;
      case SourceFormat::Auto:
        throw Reject{BadReason::MissingField,
                     "no field identifies the format (expected messages, conversations, instruction+output, "
                     "prompt+completion or text; set 'format' and 'columns' in the recipe)"};
    }
    return record;
  } catch (const Reject& reject) {
    return BadItem{reject.reason, where + ": " + reject.what + " (format: " + format_name(format_) + ")"};
  }
}

}  // namespace tailor::data
