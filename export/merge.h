// Folding an adapter into its base: the base is loaded in float32 (a GGUF quant is dequantized first,
// and the result says so), the adapter is attached exactly as training attached it and filled from its
// PEFT folder (names and shapes checked, all-or-nothing), then every LoRA/DoRA layer is merged in fp32,
// module copies replace their modules and trained token rows are written in. Exporters cast afterwards.
#pragma once

#include <ATen/core/Tensor.h>

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "lora/adapter.h"
#include "models/model_config.h"

namespace tailor::exporting {

struct MergedModel {
  std::filesystem::path base;              // the HF folder or .gguf it came from
  bool base_is_gguf = false;
  std::string base_weight_type;            // "F32", "BF16", "Q4_1", ... (the base's dominant storage type)
  models::ModelConfig config;
  std::map<std::string, at::Tensor> tensors;  // HF names and layout, float32, contiguous, CPU
  std::vector<std::string> notes;             // what the merge did that a user should know
};

// The adapter folder inside `path`: `path` itself when it holds adapter_config.json, else `path`/adapter
// (a run folder from `tailor run`). InputError naming both places when neither has one.
std::filesystem::path find_adapter_folder(const std::filesystem::path& path);

// Loads `base` and folds the adapter (if any) in. Throws InputError naming the adapter file and the
// mismatching tensor/architecture when the adapter does not fit the base.
MergedModel merge_adapter(const std::filesystem::path& base, const std::optional<std::filesystem::path>& adapter);

}  // namespace tailor::exporting
