// Streams the raw items of one source file without loading it whole: the lines of a JSONL file, the
// elements of a top-level JSON array, or the documents of a plain-text file. Items longer than the cap
// are skipped over (never buffered) and flagged, so a hostile file cannot exhaust memory.
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "data/pipeline/bad_input.h"

namespace tailor::data {

enum class Container { Jsonl, JsonArray, PlainText };

struct ReadLimits {
  size_t max_item_bytes = size_t{64} << 20;  // one JSONL line, array element or text document
  int max_depth = 64;                        // JSON nesting
};

struct RawItem {
  std::string body;                  // JSON text of one value, or one text document
  uint64_t line = 0;                 // 1-based line where the item starts
  std::optional<BadReason> problem;  // found while reading: too long, too deep, malformed array
};

// .jsonl/.ndjson are JSONL, .txt/.md/.text plain text; anything else is sniffed: a file whose first
// non-blank byte is '[' is a JSON array, '{' JSONL.
Container container_for(const std::filesystem::path& path);

class RawReader {
 public:
  // text_separator: for plain text, a line equal to it ends a document; empty means blank lines do.
  RawReader(const std::filesystem::path& path, Container container, ReadLimits limits,
            std::string text_separator = {});
  ~RawReader();
  RawReader(const RawReader&) = delete;
  RawReader& operator=(const RawReader&) = delete;

  bool next(RawItem& item);  // false at the end of the file
  uint64_t bytes_read() const { return offset_; }

 private:
  int get();
  int peek();
  bool next_line(std::string& line, bool& too_long);
  bool next_jsonl(RawItem& item);
  bool next_array_element(RawItem& item);
  bool next_text_document(RawItem& item);
  void skip_whitespace();

  std::filesystem::path path_;
  Container container_;
  ReadLimits limits_;
  std::string separator_;
  std::FILE* file_ = nullptr;
  std::vector<char> buffer_;
  size_t pos_ = 0, end_ = 0;
  uint64_t offset_ = 0, line_ = 1;
  bool array_started_ = false, array_done_ = false;
};

// The deepest nesting of objects/arrays in a JSON text, scanning no further than limit + 1 levels.
int json_depth(std::string_view text, int limit);

bool valid_utf8(std::string_view text);

}  // namespace tailor::data
