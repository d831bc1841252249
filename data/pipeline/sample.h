// One tokenized training document: ids and, per id, whether the loss is computed on it.
#pragma once

#include <cstdint>
#include <vector>

#include "data/tokenizer.h"

namespace tailor::data {

struct Sample {
  std::vector<TokenId> ids;
  std::vector<uint8_t> trained;  // 1: the token is a loss target; same length as ids

  size_t trained_count() const {
    size_t n = 0;
    for (uint8_t t : trained) n += t;
    return n;
  }
};

// Which tokens of a conversation are trained.
enum class MaskMode { Assistant, All, LastTurn };

}  // namespace tailor::data
