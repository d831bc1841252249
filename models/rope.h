// Rotary position embedding tables: inverse frequencies for each rope variant (transformers'
// modeling_rope_utils.py, computed with the same float32 operations so fp32 logits match), and the
// cos/sin for given positions.
#pragma once

#include <ATen/core/Tensor.h>

#include "models/model_config.h"

namespace tailor::models {

struct RopeFrequencies {
  at::Tensor inv_freq;            // [rotary_dim / 2] float32, CPU
  double attention_scaling = 1.0;  // multiplies cos and sin (yarn, longrope)
};

// `max_position`: one past the largest position the caller will use; longrope switches from its
// short to its long factors beyond original_max_position_embeddings.
RopeFrequencies rope_frequencies(const RopeParams& rope, int64_t rotary_dim, int64_t max_position = 0);

// cos and sin, each [B, T, rotary_dim] in `dtype`, for position ids [B, T].
std::pair<at::Tensor, at::Tensor> rope_cos_sin(const RopeFrequencies& freq, const at::Tensor& position_ids,
                                               at::ScalarType dtype);

}  // namespace tailor::models
