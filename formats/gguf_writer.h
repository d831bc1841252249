// GGUF v3 writer: typed metadata (every value type, arrays of any non-array type), tensor infos with
// exactly cumulative aligned offsets (what ggml's reader requires), and an atomic write. Keys and tensor
// names are validated as ggml validates them on read, so whatever this writes, llama.cpp can open.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "formats/gguf.h"

namespace tailor::formats {

class GgufWriter {
 public:
  explicit GgufWriter(uint32_t alignment = kGgufDefaultAlignment);

  // Sets a key (replacing an earlier value in place, so key order stays the first-set order).
  void set(const std::string& key, GgufValue value);
  void set_string(const std::string& key, std::string value) { set(key, GgufValue(std::move(value))); }
  void set_u32(const std::string& key, uint32_t value) { set(key, GgufValue(value)); }
  void set_i32(const std::string& key, int32_t value) { set(key, GgufValue(value)); }
  void set_f32(const std::string& key, float value) { set(key, GgufValue(value)); }
  void set_bool(const std::string& key, bool value) { set(key, GgufValue(value)); }
  void set_strings(const std::string& key, std::vector<std::string> values);
  void set_i32s(const std::string& key, std::vector<int32_t> values);
  void set_u32s(const std::string& key, std::vector<uint32_t> values);
  void set_f32s(const std::string& key, std::vector<float> values);
  bool has(const std::string& key) const;
  void remove(const std::string& key);

  // ne in ggml order (ne[0] innermost). `data` must hold exactly the type's bytes for ne.
  // Throws InputError for a bad or duplicate name, too many dims, a row not divisible by the block,
  // or a size mismatch.
  void add_tensor(const std::string& name, GgufType type, std::vector<int64_t> ne, std::vector<std::byte> data);
  size_t tensor_count() const { return tensors_.size(); }

  // Header, metadata, infos, padding, data; via a temp file renamed into place.
  void write(const std::filesystem::path& path) const;

 private:
  struct Tensor {
    std::string name;
    GgufType type;
    std::vector<int64_t> ne;
    std::vector<std::byte> data;
  };
  uint32_t alignment_;
  std::vector<GgufKeyValue> metadata_;
  std::vector<Tensor> tensors_;
};

}  // namespace tailor::formats
