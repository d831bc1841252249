// Record → Sample: chat through the chat template with the loss mask, completion with the prompt
// masked, text trained whole with BOS/EOS around each document. Then the length policy.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <cstdint>
#include <vector>

#include "data/pipeline/chat_encoder.h"
#include "data/pipeline/record.h"
#include "data/pipeline/sample.h"
#include "data/tokenizer.h"

namespace tailor::data {

enum class LengthPolicy { Truncate, Drop, Split };

// Why a record produced no sample (or a shortened one).
enum class DropReason { TooLong, SplitNotText, NoTrainedTokens, Duplicate, TemplateError, kCount };
const char* drop_reason_name(DropReason reason);

struct TransformOptions {
  MaskMode mask = MaskMode::Assistant;
  LengthPolicy length_policy = LengthPolicy::Truncate;
  size_t max_seq_len = 2048;
};

struct TransformResult {
  std::vector<Sample> samples;         // empty when dropped; several when a text was split
  std::optional<DropReason> dropped;
  std::string drop_detail;             // the template's message for TemplateError
  bool truncated = false;
};

class Transformer {
 public:
  // chat may be null when no source holds conversations.
  Transformer(const Tokenizer& tokenizer, const ChatEncoder* chat, TransformOptions options);

  Sample tokenize(const Record& record) const;  // no length policy; throws InputError from the template
  TransformResult apply(const Record& record) const;

 private:
  const Tokenizer& tokenizer_;
  const ChatEncoder* chat_;
  TransformOptions options_;
};

}  // namespace tailor::data
