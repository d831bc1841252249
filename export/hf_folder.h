// The merged model as a Hugging Face folder: safetensors (bf16/fp16/fp32, sharded with an index above a
// size), config.json, generation_config.json with every stop id, and the tokenizer files with the chat
// template — copied from an HF base, or synthesized (tokenizer.json + tokenizer_config.json) from a GGUF
// base's vocabulary.
#pragma once

#include <ATen/core/ScalarType.h>

#include <cstdint>
#include <filesystem>

#include "export/merge.h"

namespace tailor::exporting {

struct HfFolderOptions {
  at::ScalarType dtype = at::kBFloat16;
  uint64_t max_shard_bytes = 5'000'000'000;
};

void write_hf_folder(const MergedModel& model, const std::filesystem::path& folder, const HfFolderOptions& options);

}  // namespace tailor::exporting
