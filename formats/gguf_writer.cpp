#include "formats/gguf_writer.h"

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "core/atomic_file.h"
#include "core/error.h"

namespace tailor::formats {
namespace {

class Buffer {
 public:
  template <typename T>
  void put(T value) {
    static_assert(std::is_trivially_copyable_v<T>);
    const auto* p = reinterpret_cast<const char*>(&value);
    bytes_.append(p, sizeof value);
  }
  void put_string(const std::string& s) {
    put<uint64_t>(s.size());
    bytes_.append(s);
  }
  void pad_to(size_t alignment) { bytes_.append((alignment - bytes_.size() % alignment) % alignment, '\0'); }
  std::string& bytes() { return bytes_; }

 private:
  std::string bytes_;
};

template <typename T>
void put_scalar(Buffer& out, const T& value) {
  if constexpr (std::is_same_v<T, bool>) {
    out.put<uint8_t>(value ? 1 : 0);
  } else if constexpr (std::is_same_v<T, std::string>) {
    out.put_string(value);
  } else {
    out.put(value);
  }
}

void put_value(Buffer& out, const GgufValue& value) {
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, GgufArray>) {
          out.put<uint32_t>(uint32_t(v.element_type()));
          out.put<uint64_t>(v.size());
          std::visit(
              [&](const auto& items) {
                using V = std::decay_t<decltype(items)>;
                if constexpr (!std::is_same_v<V, std::monostate>)
                  for (const auto& item : items) put_scalar(out, static_cast<typename V::value_type>(item));
              },
              v.items);
        } else {
          put_scalar(out, v);
        }
      },
      value.storage());
}

bool valid_key(const std::string& key) {
  return !key.empty() && key.size() <= 65535 &&
         std::all_of(key.begin(), key.end(), [](unsigned char c) { return c >= 0x20 && c < 0x7F; });
}

}  // namespace

GgufWriter::GgufWriter(uint32_t alignment) : alignment_(alignment) {
  if (alignment == 0 || (alignment & (alignment - 1)) != 0 || alignment > kGgufMaxAlignment)
    throw InputError("GGUF alignment " + std::to_string(alignment) + " is not a power of two up to 2^20");
  if (alignment != kGgufDefaultAlignment) set_u32("general.alignment", alignment);
}

void GgufWriter::set(const std::string& key, GgufValue value) {
  if (!valid_key(key)) throw InputError("GGUF key '" + key + "' is empty, too long or not printable ASCII");
  if (value.type() == GgufValueType::ARRAY && value.as_array().element_type() == GgufValueType::ARRAY)
    throw InputError("GGUF key '" + key + "': nested arrays are not readable by ggml");
  for (auto& kv : metadata_)
    if (kv.key == key) {
      kv.value = std::move(value);
      return;
    }
  metadata_.push_back({key, std::move(value)});
}

void GgufWriter::set_strings(const std::string& key, std::vector<std::string> values) {
  set(key, GgufValue(GgufArray{std::move(values)}));
}
void GgufWriter::set_i32s(const std::string& key, std::vector<int32_t> values) {
  set(key, GgufValue(GgufArray{std::move(values)}));
}
void GgufWriter::set_u32s(const std::string& key, std::vector<uint32_t> values) {
  set(key, GgufValue(GgufArray{std::move(values)}));
}
void GgufWriter::set_f32s(const std::string& key, std::vector<float> values) {
  set(key, GgufValue(GgufArray{std::move(values)}));
}

bool GgufWriter::has(const std::string& key) const {
  return std::any_of(metadata_.begin(), metadata_.end(), [&](const auto& kv) { return kv.key == key; });
}

void GgufWriter::remove(const std::string& key) {
  std::erase_if(metadata_, [&](const auto& kv) { return kv.key == key; });
}

void GgufWriter::add_tensor(const std::string& name, GgufType type, std::vector<int64_t> ne, std::vector<std::byte> data) {
  const std::string what = "GGUF tensor '" + name + "'";
  if (name.empty() || name.size() > kGgufMaxTensorName)
    throw InputError(what + ": name must be 1.." + std::to_string(kGgufMaxTensorName) + " bytes");
  for (const auto& t : tensors_)
    if (t.name == name) throw InputError(what + ": duplicate name");
  if (ne.empty() || ne.size() > size_t(kGgufMaxDims)) throw InputError(what + ": 1..4 dimensions expected");
  const GgufTypeInfo* info = gguf_type_info(uint32_t(type));
  if (!info || info->block_size <= 0) throw InputError(what + ": unknown type");
  if (ne[0] % info->block_size != 0)
    throw InputError(what + ": row of " + std::to_string(ne[0]) + " is not a multiple of " + std::string(info->name) +
                     "'s block " + std::to_string(info->block_size));
  size_t expected = size_t(ne[0] / info->block_size) * info->type_size;
  for (size_t i = 1; i < ne.size(); ++i) {
    if (ne[i] < 0) throw InputError(what + ": negative dimension");
    expected *= size_t(ne[i]);
  }
  if (data.size() != expected)
    throw InputError(what + ": " + std::to_string(data.size()) + " bytes, expected " + std::to_string(expected));
  tensors_.push_back({name, type, std::move(ne), std::move(data)});
}

void GgufWriter::write(const std::filesystem::path& path) const {
  Buffer head;
  head.put<uint32_t>(0x46554747);  // "GGUF"
  head.put<uint32_t>(3);
  head.put<uint64_t>(tensors_.size());
  head.put<uint64_t>(metadata_.size());
  for (const auto& kv : metadata_) {
    head.put_string(kv.key);
    head.put<uint32_t>(uint32_t(kv.value.type()));
    put_value(head, kv.value);
  }
  uint64_t offset = 0;
  for (const auto& t : tensors_) {
    head.put_string(t.name);
    head.put<uint32_t>(uint32_t(t.ne.size()));
    for (int64_t d : t.ne) head.put<uint64_t>(uint64_t(d));
    head.put<uint32_t>(uint32_t(t.type));
    head.put<uint64_t>(offset);
    offset += (t.data.size() + alignment_ - 1) / alignment_ * alignment_;
  }
  if (!tensors_.empty()) head.pad_to(alignment_);

  AtomicFile file(path);
  file.write(head.bytes());
  static const std::string zeros(kGgufMaxAlignment, '\0');
  for (const auto& t : tensors_) {
    file.write(t.data.data(), t.data.size());
    file.write(zeros.data(), (alignment_ - t.data.size() % alignment_) % alignment_);
  }
  file.commit();
}

}  // namespace tailor::formats
