// Builds GGUF bytes field by field for the reader's tests, including deliberately broken files.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace tailor::formats::testing {

class GgufBuilder {
 public:
  std::string bytes;

  template <class T>
  GgufBuilder& raw(T value) {
    bytes.append(reinterpret_cast<const char*>(&value), sizeof value);
    return *this;
  }
  GgufBuilder& u32(uint32_t v) { return raw(v); }
  GgufBuilder& u64(uint64_t v) { return raw(v); }
  GgufBuilder& str(const std::string& s) {
    u64(s.size());
    bytes += s;
    return *this;
  }
  GgufBuilder& header(uint64_t tensors, uint64_t kvs, uint32_t version = 3) {
    bytes += "GGUF";
    return u32(version).u64(tensors).u64(kvs);
  }
  template <class T>
  GgufBuilder& kv(const std::string& key, uint32_t type, T value) {
    return str(key).u32(type).raw(value);
  }
  GgufBuilder& kv_string(const std::string& key, const std::string& value) { return str(key).u32(8).str(value); }
  GgufBuilder& tensor(const std::string& name, std::vector<uint64_t> ne, uint32_t type, uint64_t offset) {
    str(name).u32(uint32_t(ne.size()));
    for (uint64_t d : ne) u64(d);
    return u32(type).u64(offset);
  }
  GgufBuilder& pad(size_t alignment) {
    bytes.append((alignment - bytes.size() % alignment) % alignment, '\0');
    return *this;
  }
  GgufBuilder& data(const void* p, size_t n) {
    bytes.append(static_cast<const char*>(p), n);
    return *this;
  }
};

}  // namespace tailor::formats::testing
