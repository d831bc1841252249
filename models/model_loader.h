// Building a CausalLM from a path: an HF folder (config.json + safetensors, single or sharded) or a
// .gguf file (dequantized to the requested dtype).
#pragma once

#include <ATen/core/Tensor.h>

#include <filesystem>

#include "models/decoder.h"
#include "models/tensor_source.h"

namespace tailor::models {

struct LoadOptions {
  at::ScalarType dtype = at::kFloat;  // fp32 or bf16 (fp16 works but is not tested)
  at::Device device = at::kCPU;
};

// The configuration only (config.json + generation_config.json, or GGUF metadata).
ModelConfig load_model_config(const std::filesystem::path& path);

// Model and weights. Throws InputError for a missing tensor (named) or a shape mismatch (tensor,
// expected and found shapes), naming the file.
CausalLM load_causal_lm(const std::filesystem::path& path, const LoadOptions& options = {});

// Every tensor of model_tensors(config) is in `source` with its shape; InputError naming the first that
// is missing (or its expected and found shapes) otherwise.
void check_tensors(const ModelConfig& config, const TensorSource& source);

// Copies every tensor of model_tensors(config) from `source` into `model` (check_tensors first).
void load_weights(CausalLMImpl& model, const TensorSource& source);

bool is_gguf_path(const std::filesystem::path& path);

}  // namespace tailor::models
