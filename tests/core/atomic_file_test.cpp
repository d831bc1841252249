#include "core/atomic_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;

namespace {

fs::path temp_dir() {
  auto dir = fs::temp_directory_path() / ("tailor-atomic-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return dir;
}

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

size_t count_entries(const fs::path& dir) {
  return std::distance(fs::directory_iterator(dir), fs::directory_iterator{});
}

TEST(AtomicFile, CommitReplacesTargetAndLeavesNoTemp) {
  auto dir = temp_dir();
  auto target = dir / "out.bin";
  tailor::write_file_atomic(target, "old");
  tailor::write_file_atomic(target, "new contents");
  EXPECT_EQ(read(target), "new contents");
  EXPECT_EQ(count_entries(dir), 1u);
  fs::remove_all(dir);
}

TEST(AtomicFile, AbandonedWriteKeepsOldTarget) {
  auto dir = temp_dir();
  auto target = dir / "out.bin";
  tailor::write_file_atomic(target, "old");
  {
    tailor::AtomicFile f(target);
    f.write("half of a new fi");
    // destroyed without commit(): as if the process failed mid-write
  }
  EXPECT_EQ(read(target), "old");
  EXPECT_EQ(count_entries(dir), 1u);
  fs::remove_all(dir);
}

TEST(AtomicFile, UnwritableFolderIsAnError) {
  EXPECT_THROW(tailor::write_file_atomic("/nonexistent-folder/x", "x"), std::runtime_error);
}

}  // namespace
