#include "data/pipeline/raw_reader.h"

#include <cerrno>
#include <cstring>

#include "core/error.h"

namespace tailor::data {
namespace {

constexpr size_t kBufferBytes = size_t{1} << 20;

std::string lowercase_extension(const std::filesystem::path& path) {
  std::string ext = path.extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext;
}

bool is_space(int c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// Tracks strings and object/array nesting one byte at a time, without parsing.
struct JsonNesting {
  int depth = 0, max_depth = 0;
  bool in_string = false, escaped = false;

  int feed(char c) {  // returns the deepest nesting so far
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      max_depth = std::max(max_depth, ++depth);
    } else if (c == '}' || c == ']') {
      --depth;
    }
    return max_depth;
  }
};

}  // namespace

Container container_for(const std::filesystem::path& path) {
  std::string ext = lowercase_extension(path);
  if (ext == ".jsonl" || ext == ".ndjson") return Container::Jsonl;
  if (ext == ".txt" || ext == ".md" || ext == ".text") return Container::PlainText;
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw InputError(path.string() + ": cannot open: " + std::strerror(errno));
  int c;
  while ((c = std::fgetc(f)) != EOF && is_space(c)) {
  }
  std::fclose(f);
  if (c == '[') return Container::JsonArray;
  if (c == '{' || c == EOF) return Container::Jsonl;
  if (ext == ".json") return Container::JsonArray;  // reported as malformed on read
  return Container::PlainText;
}

RawReader::RawReader(const std::filesystem::path& path, Container container, ReadLimits limits,
                     std::string text_separator)
    : path_(path), container_(container), limits_(limits), separator_(std::move(text_separator)) {
  file_ = std::fopen(path.c_str(), "rb");
  if (!file_) throw InputError(path.string() + ": cannot open: " + std::strerror(errno));
  buffer_.resize(kBufferBytes);
}

RawReader::~RawReader() {
  if (file_) std::fclose(file_);
}

int RawReader::peek() {
  if (pos_ == end_) {
    end_ = std::fread(buffer_.data(), 1, buffer_.size(), file_);
    pos_ = 0;
    if (end_ == 0) {
      if (std::ferror(file_)) throw InputError(path_.string() + ": read error: " + std::strerror(errno));
      return EOF;
    }
  }
  return static_cast<unsigned char>(buffer_[pos_]);
}

int RawReader::get() {
  int c = peek();
  if (c != EOF) {
    ++pos_;
    ++offset_;
    if (c == '\n') ++line_;
  }
  return c;
}

bool RawReader::next_line(std::string& line, bool& too_long) {
  line.clear();
  too_long = false;
  if (peek() == EOF) return false;
  // Copy whole runs of the buffer up to the newline: far faster than byte-by-byte appends.
  for (;;) {
    if (peek() == EOF) break;
    const char* start = buffer_.data() + pos_;
    const char* nl = static_cast<const char*>(std::memchr(start, '\n', end_ - pos_));
    size_t run = nl ? static_cast<size_t>(nl - start) : end_ - pos_;
    if (!too_long) {
      if (line.size() + run > limits_.max_item_bytes) {
        too_long = true;
        line.clear();
      } else {
        line.append(start, run);
      }
    }
    pos_ += run;
    offset_ += run;
    if (nl) {
      get();
      break;
    }
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return true;
}

bool RawReader::next(RawItem& item) {
  item.problem.reset();
  switch (container_) {
    case Container::Jsonl: return next_jsonl(item);
    case Container::JsonArray: return next_array_element(item);
    case Container::PlainText: return next_text_document(item);
  }
  return false;
}

bool RawReader::next_jsonl(RawItem& item) {
  bool too_long = false;
  for (;;) {
    item.line = line_;
    if (!next_line(item.body, too_long)) return false;
    if (too_long) {
      item.problem = BadReason::LineTooLong;
      return true;
    }
    bool blank = true;
    for (char c : item.body) blank = blank && is_space(c);
    if (!blank) return true;
  }
}

void RawReader::skip_whitespace() {
  while (is_space(peek())) get();
}

// Scans one element of the top-level array, tracking strings and nesting so that only the element's
// own bytes are kept; a malformed array (no '[', missing ',') flags the element and ends the file.
bool RawReader::next_array_element(RawItem& item) {
  item.body.clear();
  if (array_done_) return false;
  skip_whitespace();
  item.line = line_;
  if (!array_started_) {
    if (peek() == EOF) return false;
    if (get() != '[') {
      array_done_ = true;
      item.problem = BadReason::MalformedJson;
      item.body = "the file does not start with '['";
      return true;
    }
    array_started_ = true;
    skip_whitespace();
    if (peek() == ']') {
      array_done_ = true;
      return false;
    }
    item.line = line_;
  }
  JsonNesting nesting;
  bool too_long = false;
  for (;;) {
    int c = peek();
    if (c == EOF) {
      array_done_ = true;
      item.problem = BadReason::MalformedJson;
      item.body = "the array is not closed with ']'";
      return true;
    }
    if (!nesting.in_string && nesting.depth == 0 && (c == ',' || c == ']')) {
      get();
      if (c == ']') array_done_ = true;
      break;
    }
    get();
    if (!too_long) {
      if (item.body.size() >= limits_.max_item_bytes) {
        too_long = true;
        item.body.clear();
      } else {
        item.body.push_back(static_cast<char>(c));
      }
    }
    nesting.feed(static_cast<char>(c));
  }
  if (too_long) item.problem = BadReason::LineTooLong;
  else if (nesting.max_depth > limits_.max_depth) item.problem = BadReason::TooDeep;
  return true;
}

bool RawReader::next_text_document(RawItem& item) {
  item.body.clear();
  std::string line;
  bool too_long = false, line_too_long = false, started = false;
  for (;;) {
    uint64_t line_no = line_;
    if (!next_line(line, line_too_long)) break;
    bool ends_document = separator_.empty() ? line.find_first_not_of(" \t") == std::string::npos : line == separator_;
    if (ends_document) {
      if (started) break;
      continue;
    }
    if (!started) {
      started = true;
      item.line = line_no;
    }
    if (too_long) continue;
    if (line_too_long || item.body.size() + line.size() + 1 > limits_.max_item_bytes) {
      too_long = true;
      item.body.clear();
      continue;
    }
    if (!item.body.empty()) item.body.push_back('\n');
    item.body += line;
  }
  if (!started) return false;
  if (too_long) item.problem = BadReason::LineTooLong;
  return true;
}

int json_depth(std::string_view text, int limit) {
  JsonNesting nesting;
  for (char c : text)
    if (nesting.feed(c) > limit) break;
  return nesting.max_depth;
}

bool valid_utf8(std::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  size_t n = text.size(), i = 0;
  while (i < n) {
    // Skip ASCII eight bytes at a time: most dataset text is mostly ASCII.
    while (i + 8 <= n) {
      uint64_t chunk;
      std::memcpy(&chunk, s + i, 8);
      if (chunk & 0x8080808080808080ull) break;
      i += 8;
    }
    if (i >= n) break;
    unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) len = 2, cp = c & 0x1F;
    else if ((c & 0xF0) == 0xE0) len = 3, cp = c & 0x0F;
    else if ((c & 0xF8) == 0xF0) len = 4, cp = c & 0x07;
    else return false;
    if (i + len > n) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += len;
  }
  return true;
}

}  // namespace tailor::data
