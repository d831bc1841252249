#include "models/sequence_layout.h"

#include <ATen/ATen.h>

#include <string>

#include "core/error.h"

namespace tailor::models {

SequenceLayout packed_layout(const std::vector<std::vector<int64_t>>& cu_seqlens, int64_t seq_len) {
  const int64_t batch = int64_t(cu_seqlens.size());
  at::Tensor documents = at::full({batch, seq_len}, -1, at::kLong);
  at::Tensor positions = at::zeros({batch, seq_len}, at::kLong);
  auto doc = documents.accessor<int64_t, 2>();
  auto pos = positions.accessor<int64_t, 2>();
  for (int64_t b = 0; b < batch; ++b) {
    const auto& bounds = cu_seqlens[size_t(b)];
    if (bounds.empty() || bounds.front() != 0)
      throw InputError("packed batch row " + std::to_string(b) + ": document boundaries must start at 0");
    for (size_t d = 1; d < bounds.size(); ++d) {
      if (bounds[d] <= bounds[d - 1] || bounds[d] > seq_len)
        throw InputError("packed batch row " + std::to_string(b) + ": boundary " + std::to_string(bounds[d]) +
                         " is not increasing or exceeds the row length " + std::to_string(seq_len));
      for (int64_t t = bounds[d - 1]; t < bounds[d]; ++t) {
        doc[b][t] = int64_t(d - 1);
        pos[b][t] = t - bounds[d - 1];
      }
    }
  }
  return {positions, (documents >= 0).to(at::kLong), documents};
}

at::Tensor attention_mask_for(const SequenceLayout& layout, int64_t batch, int64_t query_len, int64_t past_len,
                              std::optional<int64_t> window, const at::Device& device) {
  const int64_t key_len = past_len + query_len;
  const bool plain = !layout.attention_mask.defined() && !layout.document_ids.defined() &&
                     (!window || *window >= key_len);
  if (plain && (query_len == 1 || past_len == 0)) return {};

  auto long_opts = at::TensorOptions().dtype(at::kLong).device(device);
  at::Tensor q_idx = (at::arange(query_len, long_opts) + past_len).view({query_len, 1});
  at::Tensor k_idx = at::arange(key_len, long_opts).view({1, key_len});
  at::Tensor allowed = k_idx <= q_idx;  // [Tq, Tk]
  if (window) allowed = allowed.logical_and(k_idx > q_idx - *window);
  allowed = allowed.view({1, 1, query_len, key_len}).expand({batch, 1, query_len, key_len});
  if (layout.attention_mask.defined()) {
    at::Tensor keys = layout.attention_mask.to(device).to(at::kBool);  // [B, Tk]
    allowed = allowed.logical_and(keys.view({batch, 1, 1, key_len}));
  }
  if (layout.document_ids.defined()) {
    at::Tensor docs = layout.document_ids.to(device);  // [B, Tk]
    at::Tensor q_docs = docs.narrow(1, past_len, query_len).view({batch, 1, query_len, 1});
    allowed = allowed.logical_and(q_docs == docs.view({batch, 1, 1, key_len}));
  }
  // Padding queries would see nothing (and softmax would give NaN); let each see itself. Real tokens
  // always see themselves already, so their rows are unchanged.
  at::Tensor diagonal = (k_idx == q_idx).view({1, 1, query_len, key_len});
  return allowed.logical_or(diagonal).contiguous();
}

at::Tensor first_visible_keys(const SequenceLayout& layout, int64_t batch, int64_t seq_len, std::optional<int64_t> window) {
  const bool windowed = window && *window < seq_len;
  if (!layout.document_ids.defined() && (layout.attention_mask.defined() || !windowed)) return {};
  at::Tensor first = at::empty({batch, seq_len}, at::kLong);
  auto out = first.accessor<int64_t, 2>();
  at::Tensor docs = layout.document_ids.defined() ? layout.document_ids.to(at::kCPU).to(at::kLong).contiguous() : at::Tensor();
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t* doc = docs.defined() ? docs.data_ptr<int64_t>() + b * seq_len : nullptr;
    for (int64_t t = 0; t < seq_len; ++t) {
      int64_t start = 0;
      if (doc) start = doc[t] < 0 ? t : (t > 0 && doc[t] == doc[t - 1] ? out[b][t - 1] : t);
      out[b][t] = windowed && (!doc || doc[t] >= 0) ? std::max(start, t - *window + 1) : start;
    }
  }
  return first;
}

}  // namespace tailor::models
