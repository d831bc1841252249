#include "models/evaluate.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace tailor::models {

double EvalResult::loss() const { return tokens ? total_nll / double(tokens) : 0.0; }
double EvalResult::perplexity() const { return std::exp(loss()); }
double EvalResult::bits_per_byte() const { return bytes ? total_nll / (std::log(2.0) * double(bytes)) : 0.0; }

EvalResult evaluate_stream(CausalLMImpl& model, const std::vector<int64_t>& ids, int64_t bytes,
                           const EvalOptions& options, const std::function<void(int64_t, int64_t)>& on_window) {
  const int64_t n = int64_t(ids.size());
  if (n < 2) throw InputError("eval: the text has fewer than 2 tokens, nothing to score");
  const int64_t context = options.context > 0 ? options.context
                                              : std::min<int64_t>(model.config().max_position_embeddings, 2048);
  const int64_t stride = options.stride > 0 ? options.stride : std::max<int64_t>(context / 2, 1);
  if (context < 2) throw InputError("eval: --context must be at least 2");
  if (stride > context) throw InputError("eval: --stride must not exceed --context");

  torch::NoGradGuard no_grad;
  EvalResult result;
  result.bytes = bytes;
  at::Tensor all = at::tensor(ids, at::kLong);
  int64_t scored_until = 1;  // index of the first token not yet scored
  for (int64_t begin = 0; scored_until < n; begin += stride) {
    const int64_t end = std::min(begin + context, n);
    const int64_t first_target = std::max(scored_until, begin + 1);
    if (first_target < end) {
      at::Tensor window = all.narrow(0, begin, end - begin).view({1, -1});
      // Only the positions that predict a target need logits: [first_target - 1, end - 1).
      at::Tensor hidden = model.hidden_states(window);
      at::Tensor needed = hidden.narrow(1, first_target - 1 - begin, end - first_target);
      at::Tensor logits = model.logits(needed).to(at::kFloat).squeeze(0);  // [n_targets, V]
      at::Tensor targets = all.narrow(0, first_target, end - first_target).to(logits.device());
      at::Tensor nll = -logits.log_softmax(-1).gather(1, targets.view({-1, 1}));
      result.total_nll += nll.sum().to(at::kDouble).item<double>();
      result.tokens += end - first_target;
      scored_until = end;
      if (on_window) on_window(result.tokens, n - 1);
    }
    if (end == n) break;
  }
  return result;
}

}  // namespace tailor::models
