// What the pipeline needs from a chat template: a conversation rendered and tokenized, with the trained
// flag per token for a mask mode. The template engine provides the real one (chat_encoder_for); tests
// can provide a fake. encode() must be safe to call from several threads at once.
#pragma once

#include <memory>
#include <vector>

#include "data/pipeline/record.h"
#include "data/pipeline/sample.h"
#include "data/tokenizer.h"

namespace tailor::data {

class ChatEncoder {
 public:
  virtual ~ChatEncoder() = default;
  // Throws InputError when the template rejects the conversation (e.g. roles out of order).
  virtual Sample encode(const std::vector<Message>& messages, MaskMode mode) const = 0;
};

}  // namespace tailor::data
