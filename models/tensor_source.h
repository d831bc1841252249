// Named tensors in HF naming and HF layout, wherever they come from: an HF folder's safetensors
// (single or sharded), a GGUF file (renamed, dequantized, Q/K rows un-permuted), or memory (tests).
#pragma once

#include <ATen/core/Tensor.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "models/model_config.h"

namespace tailor::formats {
class GgufFile;
}

namespace tailor::models {

class TensorSource {
 public:
  virtual ~TensorSource() = default;
  virtual std::string describe() const = 0;  // the file or folder, for error messages
  virtual bool contains(const std::string& hf_name) const = 0;
  virtual std::vector<int64_t> shape(const std::string& hf_name) const = 0;  // HF order
  // A CPU tensor in HF layout: the stored float dtype (F32/F16/BF16), or float32 when dequantized.
  // It may alias the mapped file: copy it before the source goes away.
  virtual at::Tensor load(const std::string& hf_name) const = 0;
};

// An HF folder (model.safetensors or model.safetensors.index.json), an index file or one .safetensors.
std::unique_ptr<TensorSource> open_safetensors_source(const std::filesystem::path& path);

// A GGUF file's tensors under HF names for `config` (from config_from_gguf on the same file).
std::unique_ptr<TensorSource> open_gguf_source(std::shared_ptr<const formats::GgufFile> file, const ModelConfig& config);

// Tensors held in memory (tests, merged weights).
class MapTensorSource : public TensorSource {
 public:
  explicit MapTensorSource(std::map<std::string, at::Tensor> tensors, std::string name = "memory")
      : tensors_(std::move(tensors)), name_(std::move(name)) {}
  std::string describe() const override { return name_; }
  bool contains(const std::string& hf_name) const override { return tensors_.count(hf_name) != 0; }
  std::vector<int64_t> shape(const std::string& hf_name) const override;
  at::Tensor load(const std::string& hf_name) const override { return tensors_.at(hf_name); }

 private:
  std::map<std::string, at::Tensor> tensors_;
  std::string name_;
};

// Model configuration from GGUF metadata (formats.md §4.5) and, for llama3 rope, rope_freqs.weight.
ModelConfig config_from_gguf(const formats::GgufFile& file);

}  // namespace tailor::models
