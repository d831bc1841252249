// Keys and values of the tokens seen so far, per layer, in buffers allocated once for the whole
// generation so each step writes in place instead of concatenating.
#pragma once

#include <ATen/core/Tensor.h>

#include <vector>

namespace tailor::models {

class KvCache {
 public:
  // capacity: the most tokens (prompt + generated) the cache will hold.
  KvCache(int64_t num_layers, int64_t batch, int64_t kv_heads, int64_t head_dim, int64_t capacity,
          const at::TensorOptions& options);

  int64_t length() const { return length_; }  // tokens stored (same for every layer)
  int64_t capacity() const { return capacity_; }

  // Stores k, v [B, KV, T, D] after the cached tokens of `layer`; returns all keys and values so far.
  // The last layer's call advances length().
  std::pair<at::Tensor, at::Tensor> append(int64_t layer, const at::Tensor& k, const at::Tensor& v);

 private:
  std::vector<at::Tensor> keys_, values_;
  int64_t capacity_;
  int64_t length_ = 0;
};

}  // namespace tailor::models
