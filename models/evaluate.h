// Language-model evaluation over a token stream: mean token loss, perplexity and bits per byte, with
// a sliding window for streams longer than the context (each token scored once, with up to
// `context` tokens of history; the Hugging Face "strided perplexity" procedure).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "models/decoder.h"

namespace tailor::models {

struct EvalOptions {
  int64_t context = 0;  // window length; 0 = min(max_position_embeddings, 2048)
  int64_t stride = 0;   // window step; 0 = context / 2
};

struct EvalResult {
  double total_nll = 0;  // nats, summed over scored tokens
  int64_t tokens = 0;    // tokens scored (the first token of the stream has no prediction)
  int64_t bytes = 0;     // UTF-8 bytes of the text
  double loss() const;            // mean nats per scored token
  double perplexity() const;      // exp(loss)
  double bits_per_byte() const;   // total_nll / (ln 2 × bytes): comparable across tokenizers
};

// ids: the whole stream (BOS included if the model expects one). `bytes` is carried into the result.
// on_window(scored_so_far, total_to_score) reports progress.
EvalResult evaluate_stream(CausalLMImpl& model, const std::vector<int64_t>& ids, int64_t bytes,
                           const EvalOptions& options = {},
                           const std::function<void(int64_t, int64_t)>& on_window = {});

}  // namespace tailor::models
