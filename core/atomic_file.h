// Atomic writes: content goes to a temp file beside the target, is fsync'ed, then renamed over the
// target and the folder fsync'ed. A reader (or a crash) sees either the old file or the new one, never
// half of one.
#pragma once

#include <cstdio>
#include <filesystem>
#include <string_view>

namespace tailor {

class AtomicFile {
 public:
  explicit AtomicFile(std::filesystem::path target);
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile();  // without commit(), the temp file is removed and the target is untouched

  void write(const void* data, size_t size);
  void write(std::string_view bytes) { write(bytes.data(), bytes.size()); }
  void commit();

 private:
  std::filesystem::path target_, temp_;
  std::FILE* file_ = nullptr;
};

void write_file_atomic(const std::filesystem::path& target, std::string_view bytes);

// fsync a folder so a rename inside it survives a crash.
void fsync_directory(const std::filesystem::path& dir);

// Deletes a folder tree (no error if absent). Use it instead of std::filesystem::remove_all in anything
// linking LibTorch: libtorch.so exports its own build of remove_all, which the dynamic linker binds first
// and which crashes (calls a null function).
void remove_tree(const std::filesystem::path& folder);

}  // namespace tailor
