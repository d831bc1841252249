// Text generation with a KV cache: greedy or sampled (temperature, top-k, top-p), repetition penalty,
// stop ids, and a per-token callback for streaming. Logit processing follows transformers' order:
// repetition penalty, temperature, top-k, top-p.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "models/decoder.h"

namespace tailor::models {

struct SamplingOptions {
  int64_t max_new_tokens = 128;
  double temperature = 0.0;  // 0 = greedy
  int64_t top_k = 0;         // 0 = no top-k filter
  double top_p = 1.0;        // 1 = no nucleus filter
  double repetition_penalty = 1.0;
  uint64_t seed = 0;
  std::vector<int64_t> stop_ids;  // generation ends after emitting any of these
};

// Applies repetition penalty, temperature, top-k and top-p to logits [V] (float32); masked entries
// become -inf. `seen` holds the ids already in the sequence.
at::Tensor process_logits(at::Tensor logits, const std::vector<int64_t>& seen, const SamplingOptions& options);

struct GenerationResult {
  std::vector<int64_t> tokens;  // generated ids, the stop id included when one ended generation
  bool stopped = false;         // a stop id (rather than max_new_tokens or the callback) ended it
  int64_t prompt_tokens = 0;
  double prefill_seconds = 0, decode_seconds = 0;
};

// on_token: called with each new id as soon as it is chosen; return false to stop early.
GenerationResult generate(CausalLMImpl& model, const std::vector<int64_t>& prompt, const SamplingOptions& options,
                          const std::function<bool(int64_t)>& on_token = {});

}  // namespace tailor::models
