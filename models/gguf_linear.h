// A decoder linear layer's weight exactly as a GGUF file stores it, for training on the blocks as loaded
// (lora.quantize: gguf): the file's tensor under the same HF -> GGUF naming the loader uses, and the row
// order that turns its rows into HF rows (llama's permuted Q/K heads).
#pragma once

#include <ATen/core/Tensor.h>

#include <string>

#include "models/model_config.h"

namespace tailor::formats {
class GgufFile;
struct GgufTensorInfo;
}  // namespace tailor::formats

namespace tailor::models {

struct GgufLinearWeight {
  const formats::GgufTensorInfo* tensor;  // owned by the file
  at::Tensor row_order;                   // int64 [out]: HF row i is GGUF row row_order[i]; undefined: same order
};

// `module` is an HF module path ("model.layers.3.self_attn.q_proj"). InputError naming the file if it is not
// a linear layer of `config`, the file lacks its weight, or the stored shape is not the layer's [out, in].
GgufLinearWeight gguf_linear_weight(const ModelConfig& config, const formats::GgufFile& file, const std::string& module);

}  // namespace tailor::models
