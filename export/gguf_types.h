// Which ggml type each tensor gets in a GGUF export: F32/F16/BF16 files, and the quantized mixes as
// llama.cpp's llama-quantize chooses them (llama-quant.cpp llama_tensor_get_type: output and tied
// embeddings get Q6_K, attn_v (and fused attn_qkv) and ffn_down get Q6_K in the "more bits" layers of
// Q4_K_M/Q5_K_M, and a row length the block does not divide falls back to Q5_0/Q5_1/Q8_0/F16).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "formats/gguf_blocks.h"

namespace tailor::exporting {

enum class GgufFileType { F32, F16, BF16, Q8_0, Q4_0, Q4_K_M, Q5_K_M, Q6_K };

std::optional<GgufFileType> parse_gguf_file_type(std::string_view name);  // "Q4_K_M", case-insensitive
std::string gguf_file_type_name(GgufFileType type);
uint32_t llama_file_type_id(GgufFileType type);  // general.file_type (LlamaFileType)
bool is_quantized(GgufFileType type);

struct PlannedTensor {
  std::string name;           // GGUF name
  std::vector<int64_t> ne;    // ggml order
};

// One type per tensor, in `tensors` order (the order they are written).
std::vector<formats::GgufType> plan_tensor_types(const std::vector<PlannedTensor>& tensors, GgufFileType file_type);

}  // namespace tailor::exporting
