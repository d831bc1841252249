// Exports of the adapter itself: the PEFT folder (what PeftModel.from_pretrained and vLLM load) and a
// GGUF LoRA for llama.cpp's --lora (formats.md §4.10).
#pragma once

#include <filesystem>

namespace tailor::exporting {

// Copies adapter_model.safetensors and writes adapter_config.json with base_model_name_or_path set to
// `base` (absolute), after checking the adapter fits the base (merge_adapter's checks).
void write_peft_folder(const std::filesystem::path& base, const std::filesystem::path& adapter,
                       const std::filesystem::path& folder);

// adapter.gguf: general.type "adapter", adapter.type "lora", adapter.lora.alpha, tensors
// "<gguf weight>.lora_a" [in, r] and ".lora_b" [r, out] (llama's Q/K rows permuted in lora_b).
// rsLoRA is expressed by storing alpha·sqrt(r) (llama.cpp scales by alpha/r). DoRA, module copies and
// trained token rows have no GGUF LoRA form: InputError saying so.
void write_gguf_lora(const std::filesystem::path& base, const std::filesystem::path& adapter,
                     const std::filesystem::path& file);

}  // namespace tailor::exporting
