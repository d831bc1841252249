// How the tokens of a batch relate: padding, packed documents, positions. The decoder turns this into
// one boolean attention mask per layer kind (full or sliding window).
#pragma once

#include <ATen/core/Tensor.h>

#include <optional>
#include <vector>

namespace tailor::models {

struct SequenceLayout {
  // [B, T] int64. Undefined: 0..T-1 after the cached tokens, or restarting per document when
  // document boundaries are given (see packed_layout).
  at::Tensor position_ids;
  // [B, Tk] (Tk = cached + new tokens) 1 for real tokens, 0 for padding. Undefined: all real.
  at::Tensor attention_mask;
  // [B, Tk] int64: the document each token belongs to; tokens attend only inside their document.
  // Negative ids mark padding. Undefined: one document per row.
  at::Tensor document_ids;
};

// A packed batch from per-row document boundaries: cu_seqlens[b] = {0, len0, len0+len1, ..., used}
// (cumulative lengths, as flash-attention's varlen API takes them). Tokens past the last boundary are
// padding. Positions restart at 0 in each document. Throws InputError for boundaries that are not
// increasing or exceed `seq_len`.
SequenceLayout packed_layout(const std::vector<std::vector<int64_t>>& cu_seqlens, int64_t seq_len);

// Boolean mask [B, 1, Tq, Tk] (true = may attend) for queries at positions past..past+Tq-1 of the
// row: causal, restricted to the layout's documents and real tokens, and to the last `window` tokens
// when given. Returns an undefined tensor when plain causal attention (or none, for Tq = 1) is exact.
at::Tensor attention_mask_for(const SequenceLayout& layout, int64_t batch, int64_t query_len, int64_t past_len,
                              std::optional<int64_t> window, const at::Device& device);

// The same restriction as key ranges, for attention without a cache: first[b, t] = the earliest key query t
// sees (its document's first token, or t - window + 1; a padding token sees only itself), int64 [B, T] on
// the CPU. Undefined when there is nothing to restrict (plain causal) or the layout is not ranges (padding
// mask without documents). Documents are contiguous runs of ids, as packed_layout makes them.
at::Tensor first_visible_keys(const SequenceLayout& layout, int64_t batch, int64_t seq_len, std::optional<int64_t> window);

}  // namespace tailor::models
