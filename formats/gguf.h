// GGUF (v2 and v3) reader: typed metadata, tensor infos, zero-copy tensor bytes from a mapped file,
// and dequantization to float32 (whole tensors or row ranges). Every count, length, offset and size is
// checked against the bytes remaining (limits.md); failures throw tailor::InputError naming the file.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <map>
#include <variant>
#include <vector>

#include "formats/gguf_blocks.h"
#include "formats/mapped_file.h"
#include "formats/tensor_view.h"

namespace tailor::formats {

inline constexpr uint64_t kGgufMaxStringBytes = uint64_t(1) << 30;
inline constexpr uint64_t kGgufMaxArrayElements = uint64_t(1) << 30;
inline constexpr uint32_t kGgufMaxAlignment = uint32_t(1) << 20;
inline constexpr uint32_t kGgufDefaultAlignment = 32;
inline constexpr size_t kGgufMaxTensorName = 63;  // GGML_MAX_NAME (64) minus the NUL
inline constexpr int kGgufMaxDims = 4;

enum class GgufValueType : uint32_t {
  UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5, FLOAT32 = 6, BOOL = 7,
  STRING = 8, ARRAY = 9, UINT64 = 10, INT64 = 11, FLOAT64 = 12,
};
std::string_view gguf_value_type_name(GgufValueType type);

// One metadata value. Variant index == GgufValueType id (ARRAY holds a GgufArray whose variant index
// is the element type id; nested arrays are rejected on read, as ggml does).
struct GgufArray {
  std::variant<std::vector<uint8_t>, std::vector<int8_t>, std::vector<uint16_t>, std::vector<int16_t>,
               std::vector<uint32_t>, std::vector<int32_t>, std::vector<float>, std::vector<bool>,
               std::vector<std::string>, std::monostate, std::vector<uint64_t>, std::vector<int64_t>,
               std::vector<double>>
      items;
  GgufValueType element_type() const { return GgufValueType(items.index()); }
  size_t size() const;
};

class GgufValue {
 public:
  using Storage = std::variant<uint8_t, int8_t, uint16_t, int16_t, uint32_t, int32_t, float, bool, std::string,
                               GgufArray, uint64_t, int64_t, double>;
  explicit GgufValue(Storage value) : value_(std::move(value)) {}

  GgufValueType type() const { return GgufValueType(value_.index()); }
  const Storage& storage() const { return value_; }

  // Converting accessors; each throws tailor::InputError ("has type X, expected Y") when the stored
  // type cannot represent the request (negative -> unsigned, float -> int, ...).
  uint64_t as_uint() const;    // any integer type with a non-negative value
  int64_t as_int() const;      // any integer type that fits int64
  double as_float() const;     // any numeric type
  bool as_bool() const;        // BOOL only
  const std::string& as_string() const;  // STRING only
  const GgufArray& as_array() const;     // ARRAY only
  const std::vector<std::string>& as_strings() const;  // array of STRING
  std::vector<int64_t> as_ints() const;    // array of any integer type
  std::vector<float> as_floats() const;    // array of any numeric type

 private:
  Storage value_;
};

struct GgufKeyValue {
  std::string key;
  GgufValue value;
};

struct GgufTensorInfo {
  std::string name;
  GgufType type = GgufType::F32;
  std::vector<int64_t> ne;        // ggml order: ne[0] is the innermost (fastest) dimension
  uint64_t offset = 0;            // relative to the data section, as stored
  const std::byte* data = nullptr;  // into the mapped file
  size_t nbytes = 0;

  std::vector<int64_t> shape() const { return {ne.rbegin(), ne.rend()}; }  // HF order
  int64_t numel() const;
  int64_t row_length() const { return ne.empty() ? 1 : ne[0]; }
  int64_t rows() const { return row_length() == 0 ? 0 : numel() / row_length(); }
};

class GgufFile {
 public:
  explicit GgufFile(const std::filesystem::path& path);

  const std::filesystem::path& path() const { return file_->path(); }
  uint32_t version() const { return version_; }
  uint32_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }  // file offset of the data section

  const std::vector<GgufKeyValue>& metadata() const { return metadata_; }  // in file order
  const GgufValue* find(std::string_view key) const;  // nullptr if absent
  const GgufValue& at(std::string_view key) const;    // InputError naming file and key if absent
  // Shorthands for at(key).as_*(), with the file and key in any error.
  std::string get_string(std::string_view key) const;
  uint64_t get_uint(std::string_view key) const;
  int64_t get_int(std::string_view key) const;
  double get_float(std::string_view key) const;
  bool get_bool(std::string_view key) const;
  const std::vector<std::string>& get_strings(std::string_view key) const;
  std::vector<int64_t> get_ints(std::string_view key) const;
  std::vector<float> get_floats(std::string_view key) const;

  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }  // in file order
  const GgufTensorInfo* find_tensor(std::string_view name) const;
  const GgufTensorInfo& tensor(std::string_view name) const;  // InputError naming file and tensor

 private:
  std::shared_ptr<const MappedFile> file_;
  uint32_t version_ = 0;
  uint32_t alignment_ = kGgufDefaultAlignment;
  uint64_t data_offset_ = 0;
  std::vector<GgufKeyValue> metadata_;
  std::map<std::string, size_t, std::less<>> key_index_;
  std::vector<GgufTensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> tensor_index_;
};

// Rows [r0, r1) of a tensor (a row = ne[0] elements) as float32 into out[(r1 - r0) * ne[0]].
// Throws InputError naming the tensor for a type tailor cannot dequantize; std::out_of_range for bad rows.
void dequantize_rows(const GgufTensorInfo& tensor, int64_t r0, int64_t r1, float* out);
std::vector<float> dequantize(const GgufTensorInfo& tensor);  // the whole tensor, ggml order

// The tensor as a TensorView (HF-order shape) when its type has a safetensors dtype (F32/F16/BF16/...).
std::optional<TensorView> as_tensor_view(const GgufTensorInfo& tensor);

}  // namespace tailor::formats
