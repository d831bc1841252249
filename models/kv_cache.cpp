#include "models/kv_cache.h"

#include <ATen/ATen.h>

#include "core/error.h"

namespace tailor::models {

KvCache::KvCache(int64_t num_layers, int64_t batch, int64_t kv_heads, int64_t head_dim, int64_t capacity,
                 const at::TensorOptions& options)
    : capacity_(capacity) {
  for (int64_t i = 0; i < num_layers; ++i) {
    keys_.push_back(at::empty({batch, kv_heads, capacity, head_dim}, options));
    values_.push_back(at::empty({batch, kv_heads, capacity, head_dim}, options));
  }
}

std::pair<at::Tensor, at::Tensor> KvCache::append(int64_t layer, const at::Tensor& k, const at::Tensor& v) {
  const int64_t new_tokens = k.size(2);
  if (length_ + new_tokens > capacity_)
    throw InputError("KV cache full: " + std::to_string(length_ + new_tokens) + " tokens, capacity " +
                     std::to_string(capacity_));
  at::Tensor& keys = keys_.at(size_t(layer));
  at::Tensor& values = values_.at(size_t(layer));
  keys.narrow(2, length_, new_tokens).copy_(k);
  values.narrow(2, length_, new_tokens).copy_(v);
  const int64_t total = length_ + new_tokens;
  auto out = std::make_pair(keys.narrow(2, 0, total), values.narrow(2, 0, total));
  if (layer == int64_t(keys_.size()) - 1) length_ = total;
  return out;
}

}  // namespace tailor::models
