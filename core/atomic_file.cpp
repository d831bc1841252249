#include "core/atomic_file.h"

#include <fcntl.h>
#include <ftw.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>

namespace tailor {
namespace {

std::runtime_error io_error(const std::string& what, const std::filesystem::path& path) {
  return std::runtime_error(what + " '" + path.string() + "': " + std::strerror(errno));
}

}  // namespace

AtomicFile::AtomicFile(std::filesystem::path target) : target_(std::move(target)) {
  std::random_device rd;
  temp_ = target_;
  temp_ += ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(rd());
  file_ = std::fopen(temp_.c_str(), "wb");
  if (!file_) throw io_error("cannot create", temp_);
}

AtomicFile::~AtomicFile() {
  if (file_) {
    std::fclose(file_);
    std::error_code ignored;
    std::filesystem::remove(temp_, ignored);
  }
}

void AtomicFile::write(const void* data, size_t size) {
  if (size && std::fwrite(data, 1, size, file_) != size) throw io_error("cannot write", temp_);
}

void AtomicFile::commit() {
  if (std::fflush(file_) != 0 || ::fsync(::fileno(file_)) != 0) throw io_error("cannot flush", temp_);
  std::fclose(file_);
  file_ = nullptr;
  std::error_code ec;
  std::filesystem::rename(temp_, target_, ec);
  if (ec) {
    std::filesystem::remove(temp_, ec);
    throw std::runtime_error("cannot rename onto '" + target_.string() + "': " + ec.message());
  }
  fsync_directory(target_.has_parent_path() ? target_.parent_path() : std::filesystem::path("."));
}

void write_file_atomic(const std::filesystem::path& target, std::string_view bytes) {
  AtomicFile file(target);
  file.write(bytes);
  file.commit();
}

void fsync_directory(const std::filesystem::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) throw io_error("cannot open folder", dir);
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) throw io_error("cannot fsync folder", dir);
}

void remove_tree(const std::filesystem::path& folder) {
  auto remove_entry = [](const char* path, const struct stat*, int, struct FTW*) { return ::remove(path) == 0 ? 0 : -1; };
  if (::access(folder.c_str(), F_OK) != 0) return;
  if (::nftw(folder.c_str(), remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
    throw std::runtime_error("cannot remove '" + folder.string() + "'");
}

}  // namespace tailor
