// A whole file mapped read-only into memory; tensor views point straight into it (zero copy).
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>

namespace tailor::formats {

class MappedFile {
 public:
  // Throws tailor::InputError if the file cannot be opened or mapped.
  static std::shared_ptr<const MappedFile> open(const std::filesystem::path& path);
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  const std::byte* data() const { return data_; }
  size_t size() const { return size_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  MappedFile() = default;
  std::filesystem::path path_;
  const std::byte* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace tailor::formats
