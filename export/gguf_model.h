// The merged model as a GGUF file llama.cpp loads: architecture keys from the ModelConfig under the
// table's GGUF architecture, tensors under the table's GGUF names (llama's Q/K rows permuted back to
// llama.cpp's rope order, Gemma norms stored as 1 + w, llama3 rope as rope_freqs.weight), each tensor
// in the type the file type's mix chooses, and the tokenizer: copied key by key from a GGUF base, or
// built from tokenizer.json (gpt2-style BPE) for an HF base.
#pragma once

#include <filesystem>
#include <string>

#include "export/gguf_types.h"
#include "export/merge.h"
#include "formats/gguf_writer.h"

namespace tailor::exporting {

struct GgufModelOptions {
  GgufFileType file_type = GgufFileType::F16;
  unsigned threads = 0;  // quantization threads; 0 = all
  std::string name;      // general.name
};

// The GGUF architecture name llama.cpp uses for this config ("llama" for mistral too).
std::string gguf_architecture(const models::ModelConfig& config);

// HF tensor (HF layout, float32) -> the float rows GGUF stores (permuted / +1 where the table says so).
at::Tensor to_gguf_layout(const models::ModelConfig& config, const std::string& hf_name, const at::Tensor& tensor);

// tokenizer.* keys for the model at `base` (a .gguf or an HF folder); InputError if unsupported.
void add_tokenizer_metadata(formats::GgufWriter& writer, const std::filesystem::path& base, int64_t vocab_size);

void write_gguf_model(const MergedModel& model, const std::filesystem::path& file, const GgufModelOptions& options);

}  // namespace tailor::exporting
