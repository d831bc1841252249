#include "formats/gguf.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <type_traits>

#include "core/error.h"

namespace tailor::formats {
namespace {

constexpr std::string_view kValueTypeNames[] = {"UINT8", "INT8",   "UINT16", "INT16", "UINT32", "INT32",  "FLOAT32",
                                                "BOOL",  "STRING", "ARRAY",  "UINT64", "INT64", "FLOAT64"};
constexpr uint32_t kValueTypeCount = 13;
constexpr uint64_t kMaxKeyBytes = 65535;

// Reads little-endian fields from the mapped file; every read is checked against the bytes remaining,
// and every error names the file and the byte offset.
class Cursor {
 public:
  Cursor(const std::filesystem::path& path, const std::byte* data, size_t size) : path_(path), data_(data), size_(size) {}

  size_t offset() const { return pos_; }
  size_t remaining() const { return size_ - pos_; }

  [[noreturn]] void fail(const std::string& what) const {
    throw InputError(path_.string() + ": offset " + std::to_string(pos_) + ": " + what);
  }

  template <class T>
  T read(const char* what) {
    if (remaining() < sizeof(T))
      fail(std::string("file ends inside ") + what + " (" + std::to_string(remaining()) + " bytes left, " +
           std::to_string(sizeof(T)) + " needed)");
    T value;
    std::memcpy(&value, data_ + pos_, sizeof(T));  // x86/ARM little-endian, as the format
    pos_ += sizeof(T);
    return value;
  }

  std::string read_string(const char* what, uint64_t max_length = kGgufMaxStringBytes) {
    uint64_t length = read<uint64_t>(what);
    if (length > max_length)
      fail(std::string(what) + " claims " + std::to_string(length) + " bytes, more than the limit of " +
           std::to_string(max_length));
    if (length > remaining())
      fail(std::string(what) + " claims " + std::to_string(length) + " bytes but only " +
           std::to_string(remaining()) + " remain");
    std::string s(reinterpret_cast<const char*>(data_ + pos_), size_t(length));
    pos_ += size_t(length);
    return s;
  }

 private:
  const std::filesystem::path& path_;
  const std::byte* data_;
  size_t size_;
  size_t pos_ = 0;
};

// Smallest encoding of one value of each type, so a claimed count can be checked before reserving.
uint64_t min_encoded_bytes(uint32_t type) {
  switch (GgufValueType(type)) {
    case GgufValueType::UINT8: case GgufValueType::INT8: case GgufValueType::BOOL: return 1;
    case GgufValueType::UINT16: case GgufValueType::INT16: return 2;
    case GgufValueType::UINT32: case GgufValueType::INT32: case GgufValueType::FLOAT32: return 4;
    case GgufValueType::STRING: return 8;
    case GgufValueType::ARRAY: return 12;
    default: return 8;
  }
}

bool read_bool(Cursor& in) {
  uint8_t b = in.read<uint8_t>("a BOOL value");
  if (b > 1) in.fail("BOOL value " + std::to_string(b) + " is neither 0 nor 1");
  return b == 1;
}

template <size_t I, class Array>
void read_array_items(Cursor& in, Array& items, uint64_t count) {
  using Vector = std::variant_alternative_t<I, std::remove_reference_t<decltype(items)>>;
  Vector& out = items.template emplace<I>();
  out.reserve(size_t(count));
  for (uint64_t i = 0; i < count; ++i) {
    using Item = typename Vector::value_type;
    if constexpr (std::is_same_v<Item, std::string>) out.push_back(in.read_string("an array string"));
    else if constexpr (std::is_same_v<Item, bool>) out.push_back(read_bool(in));
    else out.push_back(in.read<Item>("an array element"));
  }
}

GgufArray read_array(Cursor& in) {
  uint32_t type = in.read<uint32_t>("an array element type");
  if (type >= kValueTypeCount) in.fail("array element type " + std::to_string(type) + " is unknown");
  if (GgufValueType(type) == GgufValueType::ARRAY) in.fail("nested arrays are not supported (ggml rejects them)");
  uint64_t count = in.read<uint64_t>("an array length");
  if (count > kGgufMaxArrayElements)
    in.fail("array claims " + std::to_string(count) + " elements, more than the limit of " +
            std::to_string(kGgufMaxArrayElements));
  if (count > in.remaining() / min_encoded_bytes(type))
    in.fail("array claims " + std::to_string(count) + " " + std::string(kValueTypeNames[type]) +
            " elements but only " + std::to_string(in.remaining()) + " bytes remain");
  GgufArray array;
  switch (GgufValueType(type)) {
    case GgufValueType::UINT8: read_array_items<0>(in, array.items, count); break;
    case GgufValueType::INT8: read_array_items<1>(in, array.items, count); break;
    case GgufValueType::UINT16: read_array_items<2>(in, array.items, count); break;
    case GgufValueType::INT16: read_array_items<3>(in, array.items, count); break;
    case GgufValueType::UINT32: read_array_items<4>(in, array.items, count); break;
    case GgufValueType::INT32: read_array_items<5>(in, array.items, count); break;
    case GgufValueType::FLOAT32: read_array_items<6>(in, array.items, count); break;
    case GgufValueType::BOOL: read_array_items<7>(in, array.items, count); break;
    case GgufValueType::STRING: read_array_items<8>(in, array.items, count); break;
    case GgufValueType::UINT64: read_array_items<10>(in, array.items, count); break;
    case GgufValueType::INT64: read_array_items<11>(in, array.items, count); break;
    case GgufValueType::FLOAT64: read_array_items<12>(in, array.items, count); break;
    case GgufValueType::ARRAY: break;
  }
  return array;
}

GgufValue read_value(Cursor& in, uint32_t type) {
  switch (GgufValueType(type)) {
    case GgufValueType::UINT8: return GgufValue(in.read<uint8_t>("a UINT8 value"));
    case GgufValueType::INT8: return GgufValue(in.read<int8_t>("an INT8 value"));
    case GgufValueType::UINT16: return GgufValue(in.read<uint16_t>("a UINT16 value"));
    case GgufValueType::INT16: return GgufValue(in.read<int16_t>("an INT16 value"));
    case GgufValueType::UINT32: return GgufValue(in.read<uint32_t>("a UINT32 value"));
    case GgufValueType::INT32: return GgufValue(in.read<int32_t>("an INT32 value"));
    case GgufValueType::FLOAT32: return GgufValue(in.read<float>("a FLOAT32 value"));
    case GgufValueType::BOOL: return GgufValue(read_bool(in));
    case GgufValueType::STRING: return GgufValue(in.read_string("a STRING value"));
    case GgufValueType::ARRAY: return GgufValue(read_array(in));
    case GgufValueType::UINT64: return GgufValue(in.read<uint64_t>("a UINT64 value"));
    case GgufValueType::INT64: return GgufValue(in.read<int64_t>("an INT64 value"));
    case GgufValueType::FLOAT64: return GgufValue(in.read<double>("a FLOAT64 value"));
  }
  in.fail("value type " + std::to_string(type) + " is unknown");
}

[[noreturn]] void type_error(GgufValueType have, std::string_view expected) {
  throw InputError("has type " + std::string(gguf_value_type_name(have)) + ", expected " + std::string(expected));
}

uint64_t pad_to(uint64_t offset, uint64_t alignment) { return (offset + alignment - 1) / alignment * alignment; }

}  // namespace

std::string_view gguf_value_type_name(GgufValueType type) {
  auto i = static_cast<uint32_t>(type);
  return i < kValueTypeCount ? kValueTypeNames[i] : std::string_view("unknown");
}

size_t GgufArray::size() const {
  return std::visit(
      [](const auto& v) -> size_t {
        if constexpr (std::is_same_v<std::decay_t<decltype(v)>, std::monostate>) return 0;
        else return v.size();
      },
      items);
}

uint64_t GgufValue::as_uint() const {
  return std::visit(
      [this](const auto& v) -> uint64_t {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
          if constexpr (std::is_signed_v<T>)
            if (v < 0) throw InputError("value " + std::to_string(v) + " is negative, expected an unsigned integer");
          return uint64_t(v);
        } else {
          type_error(type(), "an unsigned integer");
        }
      },
      value_);
}

int64_t GgufValue::as_int() const {
  return std::visit(
      [this](const auto& v) -> int64_t {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
          if constexpr (std::is_same_v<T, uint64_t>)
            if (v > uint64_t(std::numeric_limits<int64_t>::max())) throw InputError("value does not fit int64");
          return int64_t(v);
        } else {
          type_error(type(), "an integer");
        }
      },
      value_);
}

double GgufValue::as_float() const {
  return std::visit(
      [this](const auto& v) -> double {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_arithmetic_v<T> && !std::is_same_v<T, bool>) return double(v);
        else type_error(type(), "a number");
      },
      value_);
}

bool GgufValue::as_bool() const {
  if (const bool* b = std::get_if<bool>(&value_)) return *b;
  type_error(type(), "BOOL");
}

const std::string& GgufValue::as_string() const {
  if (const std::string* s = std::get_if<std::string>(&value_)) return *s;
  type_error(type(), "STRING");
}

const GgufArray& GgufValue::as_array() const {
  if (const GgufArray* a = std::get_if<GgufArray>(&value_)) return *a;
  type_error(type(), "ARRAY");
}

const std::vector<std::string>& GgufValue::as_strings() const {
  const GgufArray& array = as_array();
  if (const auto* v = std::get_if<std::vector<std::string>>(&array.items)) return *v;
  throw InputError("is an array of " + std::string(gguf_value_type_name(array.element_type())) +
                   ", expected an array of STRING");
}

std::vector<int64_t> GgufValue::as_ints() const {
  const GgufArray& array = as_array();
  return std::visit(
      [&](const auto& v) -> std::vector<int64_t> {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::monostate>) {
          return {};
        } else {
          using Item = typename T::value_type;
          if constexpr (std::is_integral_v<Item> && !std::is_same_v<Item, bool>) {
            std::vector<int64_t> out;
            out.reserve(v.size());
            for (Item x : v) {
              if constexpr (std::is_same_v<Item, uint64_t>)
                if (x > uint64_t(std::numeric_limits<int64_t>::max())) throw InputError("array value does not fit int64");
              out.push_back(int64_t(x));
            }
            return out;
          } else {
            throw InputError("is an array of " + std::string(gguf_value_type_name(array.element_type())) +
                             ", expected an array of integers");
          }
        }
      },
      array.items);
}

std::vector<float> GgufValue::as_floats() const {
  const GgufArray& array = as_array();
  return std::visit(
      [&](const auto& v) -> std::vector<float> {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::monostate>) {
          return {};
        } else {
          using Item = typename T::value_type;
          if constexpr (std::is_arithmetic_v<Item> && !std::is_same_v<Item, bool>) {
            return std::vector<float>(v.begin(), v.end());
          } else {
            throw InputError("is an array of " + std::string(gguf_value_type_name(array.element_type())) +
                             ", expected an array of numbers");
          }
        }
      },
      array.items);
}

int64_t GgufTensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : ne) n *= d;
  return n;
}

GgufFile::GgufFile(const std::filesystem::path& path) : file_(MappedFile::open(path)) {
  Cursor in(path, file_->data(), file_->size());
  if (in.read<uint32_t>("the magic") != 0x46554747) in.fail("not a GGUF file (magic is not 'GGUF')");
  version_ = in.read<uint32_t>("the version");
  if ((version_ & 0xFFFF) == 0) in.fail("big-endian GGUF is not supported");
  if (version_ != 2 && version_ != 3) in.fail("GGUF version " + std::to_string(version_) + " is not supported (2 and 3 are)");
  const uint64_t tensor_count = in.read<uint64_t>("the tensor count");
  const uint64_t kv_count = in.read<uint64_t>("the metadata count");
  // Each key/value needs >= 13 bytes and each tensor info >= 24: reject absurd counts before reserving.
  if (kv_count > in.remaining() / 13)
    in.fail("metadata count " + std::to_string(kv_count) + " cannot fit in the " + std::to_string(in.remaining()) +
            " bytes remaining");
  if (tensor_count > in.remaining() / 24)
    in.fail("tensor count " + std::to_string(tensor_count) + " cannot fit in the " + std::to_string(in.remaining()) +
            " bytes remaining");

  metadata_.reserve(size_t(kv_count));
  for (uint64_t i = 0; i < kv_count; ++i) {
    std::string key = in.read_string("a metadata key", kMaxKeyBytes);
    if (key.empty()) in.fail("empty metadata key");
    if (key_index_.count(key)) in.fail("duplicate metadata key '" + key + "'");
    uint32_t type = in.read<uint32_t>("a metadata value type");
    if (type >= kValueTypeCount) in.fail("key '" + key + "': value type " + std::to_string(type) + " is unknown");
    try {
      metadata_.push_back({key, read_value(in, type)});
    } catch (const InputError& e) {
      throw InputError(std::string(e.what()) + " (key '" + key + "')");
    }
    key_index_.emplace(std::move(key), metadata_.size() - 1);
  }
  if (const GgufValue* alignment = find("general.alignment")) {
    if (alignment->type() != GgufValueType::UINT32)
      in.fail("general.alignment has type " + std::string(gguf_value_type_name(alignment->type())) + ", expected UINT32");
    alignment_ = std::get<uint32_t>(alignment->storage());
    if (alignment_ == 0 || !std::has_single_bit(alignment_) || alignment_ > kGgufMaxAlignment)
      in.fail("general.alignment " + std::to_string(alignment_) + " is not a power of two up to " +
              std::to_string(kGgufMaxAlignment));
  }

  tensors_.reserve(size_t(tensor_count));
  for (uint64_t i = 0; i < tensor_count; ++i) {
    GgufTensorInfo info;
    info.name = in.read_string("a tensor name", kGgufMaxTensorName);
    if (tensor_index_.count(info.name)) in.fail("duplicate tensor name '" + info.name + "'");
    const std::string where = "tensor '" + info.name + "': ";
    uint32_t n_dims = in.read<uint32_t>("a tensor's dimension count");
    if (n_dims > uint32_t(kGgufMaxDims)) in.fail(where + std::to_string(n_dims) + " dimensions, at most 4 allowed");
    uint64_t numel = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      uint64_t ne = in.read<uint64_t>("a tensor dimension");
      if (ne > uint64_t(std::numeric_limits<int64_t>::max())) in.fail(where + "dimension " + std::to_string(ne) + " is negative");
      if (__builtin_mul_overflow(numel, ne, &numel) || numel > uint64_t(std::numeric_limits<int64_t>::max()))
        in.fail(where + "element count overflows");
      info.ne.push_back(int64_t(ne));
    }
    uint32_t type = in.read<uint32_t>("a tensor type");
    const GgufTypeInfo* type_info = gguf_type_info(type);
    if (!type_info) in.fail(where + "unknown ggml type " + std::to_string(type));
    info.type = GgufType(type);
    const uint64_t row = n_dims ? uint64_t(info.ne[0]) : 1;
    if (row % uint64_t(type_info->block_size) != 0)
      in.fail(where + "row length " + std::to_string(row) + " is not a multiple of the " + std::string(type_info->name) +
              " block size " + std::to_string(type_info->block_size));
    uint64_t nbytes;
    if (__builtin_mul_overflow(numel / uint64_t(type_info->block_size), uint64_t(type_info->type_size), &nbytes))
      in.fail(where + "byte size overflows");
    info.nbytes = size_t(nbytes);
    info.offset = in.read<uint64_t>("a tensor offset");
    if (info.offset % alignment_ != 0)
      in.fail(where + "offset " + std::to_string(info.offset) + " is not a multiple of the alignment " +
              std::to_string(alignment_));
    tensor_index_.emplace(info.name, tensors_.size());
    tensors_.push_back(std::move(info));
  }

  data_offset_ = pad_to(in.offset(), alignment_);
  if (!tensors_.empty() && data_offset_ > file_->size())
    in.fail("data section would start at " + std::to_string(data_offset_) + ", past the end of the file");
  const uint64_t data_size = file_->size() - std::min<uint64_t>(data_offset_, file_->size());
  std::vector<const GgufTensorInfo*> by_offset;
  for (GgufTensorInfo& t : tensors_) {
    uint64_t end;
    if (__builtin_add_overflow(t.offset, uint64_t(t.nbytes), &end) || end > data_size)
      throw InputError(path.string() + ": tensor '" + t.name + "': data [" + std::to_string(t.offset) + ", +" +
                       std::to_string(t.nbytes) + ") lies outside the " + std::to_string(data_size) +
                       "-byte data section");
    t.data = file_->data() + data_offset_ + t.offset;
    by_offset.push_back(&t);
  }
  std::sort(by_offset.begin(), by_offset.end(), [](auto* a, auto* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < by_offset.size(); ++i)
    if (by_offset[i - 1]->offset + by_offset[i - 1]->nbytes > by_offset[i]->offset)
      throw InputError(path.string() + ": tensors '" + by_offset[i - 1]->name + "' and '" + by_offset[i]->name +
                       "' overlap");
}

const GgufValue* GgufFile::find(std::string_view key) const {
  auto it = key_index_.find(key);
  return it == key_index_.end() ? nullptr : &metadata_[it->second].value;
}

const GgufValue& GgufFile::at(std::string_view key) const {
  if (const GgufValue* v = find(key)) return *v;
  throw InputError(path().string() + ": missing metadata key '" + std::string(key) + "'");
}

namespace {

template <class F>
auto with_key(const GgufFile& file, std::string_view key, F&& get) -> decltype(get(file.at(key))) {
  const GgufValue& value = file.at(key);
  try {
    return get(value);
  } catch (const InputError& e) {
    throw InputError(file.path().string() + ": key '" + std::string(key) + "' " + e.what());
  }
}

}  // namespace

std::string GgufFile::get_string(std::string_view key) const {
  return with_key(*this, key, [](const GgufValue& v) { return v.as_string(); });
}
uint64_t GgufFile::get_uint(std::string_view key) const {
  return with_key(*this, key, [](const GgufValue& v) { return v.as_uint(); });
}
int64_t GgufFile::get_int(std::string_view key) const {
  return with_key(*this, key, [](const GgufValue& v) { return v.as_int(); });
}
double GgufFile::get_float(std::string_view key) const {
  return with_key(*this, key, [](const GgufValue& v) { return v.as_float(); });
}
bool GgufFile::get_bool(std::string_view key) const {
  return with_key(*this, key, [](const GgufValue& v) { return v.as_bool(); });
}
const std::vector<std::string>& GgufFile::get_strings(std::string_view key) const {
  return with_key(*this, key, [](const GgufValue& v) -> const std::vector<std::string>& { return v.as_strings(); });
}
std::vector<int64_t> GgufFile::get_ints(std::string_view key) const {
  return with_key(*this, key, [](const GgufValue& v) { return v.as_ints(); });
}
std::vector<float> GgufFile::get_floats(std::string_view key) const {
  return with_key(*this, key, [](const GgufValue& v) { return v.as_floats(); });
}

const GgufTensorInfo* GgufFile::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

const GgufTensorInfo& GgufFile::tensor(std::string_view name) const {
  if (const GgufTensorInfo* t = find_tensor(name)) return *t;
  throw InputError(path().string() + ": tensor '" + std::string(name) + "' not found");
}

void dequantize_rows(const GgufTensorInfo& tensor, int64_t r0, int64_t r1, float* out) {
  const GgufTypeInfo* info = gguf_type_info(static_cast<uint32_t>(tensor.type));
  if (!info || !info->dequantizable)
    throw InputError("tensor '" + tensor.name + "': tailor cannot dequantize GGUF type " +
                     std::string(gguf_type_name(tensor.type)));
  if (r0 < 0 || r1 < r0 || r1 > tensor.rows())
    throw std::out_of_range("tensor '" + tensor.name + "': rows [" + std::to_string(r0) + ", " + std::to_string(r1) +
                            ") outside [0, " + std::to_string(tensor.rows()) + ")");
  const int64_t row_length = tensor.row_length();
  const size_t row_bytes = size_t(row_length / info->block_size) * info->type_size;
  dequantize_blocks(tensor.type, tensor.data + size_t(r0) * row_bytes, out, (r1 - r0) * row_length);
}

std::vector<float> dequantize(const GgufTensorInfo& tensor) {
  std::vector<float> out(size_t(tensor.numel()));
  dequantize_rows(tensor, 0, tensor.rows(), out.data());
  return out;
}

std::optional<TensorView> as_tensor_view(const GgufTensorInfo& tensor) {
  auto dtype = gguf_type_as_dtype(tensor.type);
  if (!dtype) return std::nullopt;
  return TensorView{tensor.name, *dtype, tensor.shape(), tensor.data, tensor.nbytes};
}

}  // namespace tailor::formats
