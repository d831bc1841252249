// JSON records → Record, for each source shape, with the user's column mapping. Detects the shape from
// the first record when the recipe leaves it to auto.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <variant>

#include <nlohmann/json_fwd.hpp>

#include "data/pipeline/bad_input.h"
#include "data/pipeline/raw_reader.h"
#include "data/pipeline/record.h"

namespace tailor::data {

// Canonical field name → the name used in the file, e.g. {"messages": "dialog", "content": "text"}.
// Canonical names: messages role content (OpenAI), conversations from value (ShareGPT), instruction
// input output system (Alpaca), prompt completion, text.
using ColumnMap = std::map<std::string, std::string>;

// The canonical names a ColumnMap may use (for recipe validation).
const std::vector<std::string>& column_names();

class RecordParser {
 public:
  RecordParser(SourceFormat format, ColumnMap columns);

  // Decides the format from a JSON object's fields; Auto when nothing matches.
  SourceFormat detect(const nlohmann::json& object) const;
  SourceFormat format() const { return format_; }
  void set_format(SourceFormat format) { format_ = format; }

  // where: "file.jsonl:12" for messages. Returns a BadItem instead of throwing (the caller decides
  // whether to stop or skip).
  std::variant<Record, BadItem> parse_json(std::string_view body, const std::string& where, int max_depth) const;
  std::variant<Record, BadItem> parse_text(std::string_view body, const std::string& where) const;

 private:
  std::string column(const char* canonical) const;
  std::variant<Record, BadItem> convert(const nlohmann::json& object, const std::string& where) const;

  SourceFormat format_;
  ColumnMap columns_;
};

}  // namespace tailor::data
