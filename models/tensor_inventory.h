// The architecture table resolved against one config: every linear layer with its sizes, and every
// tensor the model holds with its HF name, GGUF name and HF shape. LoRA targeting, the loader and the
// exporters use these lists instead of spelling names themselves.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/model_config.h"

namespace tailor::models {

int64_t resolve(Dim dim, const ModelConfig& config);

struct LinearLayerInfo {
  int64_t layer;
  const LinearSpec* spec;
  std::string module;       // full HF module path: "model.layers.3.self_attn.q_proj"
  std::string gguf_weight;  // "blk.3.attn_q.weight"
  int64_t in_features, out_features;
  bool has_bias;
  bool lora_target;
};

// Every linear layer of every decoder layer, in HF state_dict order (lm_head not included).
std::vector<LinearLayerInfo> linear_layers(const ModelConfig& config);

bool has_bias(const LinearSpec& spec, const ModelConfig& config);

struct TensorInfo {
  std::string hf_name;    // "model.layers.3.self_attn.q_proj.weight"
  std::string gguf_name;  // "blk.3.attn_q.weight"
  std::vector<int64_t> shape;  // HF shape ([out, in] for linear weights)
};

// Every tensor an HF checkpoint of this config stores (lm_head.weight only when untied).
std::vector<TensorInfo> model_tensors(const ModelConfig& config);

}  // namespace tailor::models
