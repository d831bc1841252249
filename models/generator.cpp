#include "models/generator.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <algorithm>
#include <chrono>
#include <limits>

#include "core/error.h"

namespace tailor::models {
namespace {

constexpr float kMasked = -std::numeric_limits<float>::infinity();

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

at::Tensor process_logits(at::Tensor logits, const std::vector<int64_t>& seen, const SamplingOptions& o) {
  logits = logits.to(at::kFloat).contiguous().clone();
  if (o.repetition_penalty != 1.0 && !seen.empty()) {
    at::Tensor ids = at::tensor(seen, at::kLong).to(logits.device());
    at::Tensor scores = logits.index_select(0, ids);
    scores = at::where(scores < 0, scores * o.repetition_penalty, scores / o.repetition_penalty);
    logits.index_put_({ids}, scores);
  }
  if (o.temperature <= 0) return logits;
  logits = logits / o.temperature;
  const int64_t vocab = logits.size(0);
  if (o.top_k > 0 && o.top_k < vocab) {
    at::Tensor kth = std::get<0>(logits.topk(o.top_k)).select(0, o.top_k - 1);
    logits = logits.masked_fill(logits < kth, kMasked);
  }
  if (o.top_p < 1.0) {
    auto [sorted, order] = logits.sort(/*dim=*/0, /*descending=*/false);
    at::Tensor cumulative = sorted.softmax(0).cumsum(0);
    at::Tensor remove_sorted = cumulative <= (1.0 - o.top_p);
    remove_sorted.index_put_({-1}, false);  // always keep the most likely token
    at::Tensor remove = at::zeros_like(remove_sorted).scatter(0, order, remove_sorted);
    logits = logits.masked_fill(remove, kMasked);
  }
  return logits;
}

GenerationResult generate(CausalLMImpl& model, const std::vector<int64_t>& prompt, const SamplingOptions& o,
                          const std::function<bool(int64_t)>& on_token) {
  if (prompt.empty()) throw InputError("generate: the prompt has no tokens");
  if (o.max_new_tokens < 0) throw InputError("generate: max_new_tokens must be >= 0");
  torch::NoGradGuard no_grad;
  GenerationResult result;
  result.prompt_tokens = int64_t(prompt.size());
  at::Generator rng = at::make_generator<at::CPUGeneratorImpl>(o.seed);
  KvCache cache = model.new_cache(1, int64_t(prompt.size()) + o.max_new_tokens + 1);
  std::vector<int64_t> sequence = prompt;

  at::Tensor input = at::tensor(prompt, at::kLong).view({1, -1});
  auto start = std::chrono::steady_clock::now();
  for (int64_t step = 0; step < o.max_new_tokens; ++step) {
    at::Tensor logits = model.forward(input, {}, &cache, /*last_positions=*/1).select(0, 0).select(0, 0).cpu();
    if (step == 0) {
      result.prefill_seconds = seconds_since(start);
      start = std::chrono::steady_clock::now();
    }
    at::Tensor scores = process_logits(logits, sequence, o);
    int64_t next;
    if (o.temperature <= 0) {
      next = scores.argmax().item<int64_t>();
    } else {
      next = at::multinomial(scores.softmax(0), 1, /*replacement=*/false, rng).item<int64_t>();
    }
    sequence.push_back(next);
    result.tokens.push_back(next);
    const bool keep_going = !on_token || on_token(next);
    if (std::find(o.stop_ids.begin(), o.stop_ids.end(), next) != o.stop_ids.end()) {
      result.stopped = true;
      break;
    }
    if (!keep_going) break;
    input = at::full({1, 1}, next, at::kLong);
  }
  result.decode_seconds = seconds_since(start);
  return result;
}

}  // namespace tailor::models
