#include "data/pipeline/bad_input.h"

namespace tailor::data {

const char* reason_name(BadReason reason) {
  switch (reason) {
    case BadReason::MalformedJson: return "malformed JSON";
    case BadReason::MissingField: return "missing field";
    case BadReason::WrongType: return "wrong type";
    case BadReason::UnknownRole: return "unknown role";
    case BadReason::InvalidUtf8: return "invalid UTF-8";
    case BadReason::EmptyFile: return "empty file";
    case BadReason::LineTooLong: return "line too long";
    case BadReason::TooDeep: return "nesting too deep";
    case BadReason::EmptyRecord: return "empty record";
    case BadReason::kCount: break;
  }
  return "unknown";
}

void BadInputTally::add(const BadItem& item) {
  ++counts[static_cast<size_t>(item.reason)];
  if (first_examples.size() < kExamplesKept) first_examples.push_back(item.message);
}

uint64_t BadInputTally::total() const {
  uint64_t n = 0;
  for (uint64_t c : counts) n += c;
  return n;
}

void BadInputTally::merge(const BadInputTally& other) {
  for (size_t i = 0; i < counts.size(); ++i) counts[i] += other.counts[i];
  for (const auto& example : other.first_examples)
    if (first_examples.size() < kExamplesKept) first_examples.push_back(example);
}

}  // namespace tailor::data
