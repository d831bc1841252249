// Bad dataset input: the reasons a line or file is rejected, and the per-reason tally kept when the
// recipe says skip_bad (otherwise the first bad line stops the run with an InputError).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace tailor::data {

enum class BadReason {
  MalformedJson,
  MissingField,
  WrongType,
  UnknownRole,
  InvalidUtf8,
  EmptyFile,
  LineTooLong,
  TooDeep,
  EmptyRecord,
  kCount
};

const char* reason_name(BadReason reason);

// One rejected line, already phrased for a person: "file.jsonl:12: missing field 'output' (format: alpaca)".
struct BadItem {
  BadReason reason;
  std::string message;
};

struct BadInputTally {
  static constexpr size_t kExamplesKept = 5;
  std::array<uint64_t, static_cast<size_t>(BadReason::kCount)> counts{};
  std::vector<std::string> first_examples;

  void add(const BadItem& item);
  uint64_t total() const;
  void merge(const BadInputTally& other);
};

}  // namespace tailor::data
