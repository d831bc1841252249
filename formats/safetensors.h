// safetensors: reader (mmap, zero-copy views, validated like the reference and limits.md), sharded
// checkpoints behind one name lookup, and an atomic writer with the reference's layout.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "formats/mapped_file.h"
#include "formats/tensor_view.h"

namespace tailor::formats {

inline constexpr uint64_t kSafetensorsMaxHeaderBytes = 100'000'000;
inline constexpr size_t kSafetensorsMaxTensors = 1'000'000;
inline constexpr size_t kSafetensorsMaxNameBytes = 4096;

// One .safetensors file. Views stay valid as long as this object (or a copy) lives.
// Every validation failure throws tailor::InputError naming the file (and the tensor, if any).
class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::filesystem::path& path);

  const std::filesystem::path& path() const { return file_->path(); }
  const std::vector<TensorView>& tensors() const { return tensors_; }  // in data-offset order
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const TensorView* find(std::string_view name) const;  // nullptr if absent
  const TensorView& at(std::string_view name) const;    // InputError naming file and tensor if absent

 private:
  std::shared_ptr<const MappedFile> file_;
  std::vector<TensorView> tensors_;
  std::map<std::string, size_t, std::less<>> by_name_;  // owns its keys so copies stay valid
  std::map<std::string, std::string> metadata_;
};

// A checkpoint: a single file, or the shards named by a model.safetensors.index.json.
// `path` may be a .safetensors file, an index .json, or a folder holding model.safetensors or
// model.safetensors.index.json (model.safetensors wins when both exist, as in transformers).
class SafetensorsCheckpoint {
 public:
  explicit SafetensorsCheckpoint(const std::filesystem::path& path);

  const TensorView* find(std::string_view name) const;
  const TensorView& at(std::string_view name) const;  // InputError naming the checkpoint and tensor
  std::vector<std::string> names() const;             // sorted
  size_t size() const { return by_name_.size(); }
  const std::vector<SafetensorsFile>& shards() const { return shards_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  std::vector<SafetensorsFile> shards_;
  std::map<std::string, std::pair<size_t, size_t>, std::less<>> by_name_;  // name -> (shard, tensor)
};

// Writes one file atomically in the reference writer's layout: tensors ordered by dtype (widest
// first) then name, header padded with spaces to a multiple of 8. Throws InputError for duplicate
// names or a view whose nbytes does not match dtype x shape.
void write_safetensors(const std::filesystem::path& file, std::span<const TensorView> tensors,
                       const std::map<std::string, std::string>& metadata = {{"format", "pt"}});

struct ShardedWriteOptions {
  uint64_t max_shard_bytes = 5'000'000'000;  // huggingface_hub's default "5GB"
  std::string base_name = "model";           // model.safetensors / model-00001-of-00002.safetensors
  std::map<std::string, std::string> metadata = {{"format", "pt"}};
};

// Writes `folder`/model.safetensors, or shards plus model.safetensors.index.json when the tensors do
// not fit one shard (huggingface_hub's splitting: tensors in the given order, a new shard when the
// next tensor would overflow, an oversized tensor alone). The index is written last; a stale single
// file or index from an earlier save is removed. Returns the files written.
std::vector<std::filesystem::path> write_safetensors_checkpoint(const std::filesystem::path& folder,
                                                                std::span<const TensorView> tensors,
                                                                const ShardedWriteOptions& options = {});

}  // namespace tailor::formats
