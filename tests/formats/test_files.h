// A scratch folder per test and helpers to write raw bytes into it.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace tailor::formats::testing {

// A fresh folder named after the running test, removed when the test's variable goes out of scope.
struct ScratchDir : std::filesystem::path {
  using std::filesystem::path::path;
  ScratchDir(const ScratchDir&) = delete;
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(*this, ignored);
  }
};

inline ScratchDir scratch_dir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  auto name = std::filesystem::temp_directory_path() /
              ("tailor-formats-" + std::to_string(::getpid()) + "-" + info->test_suite_name() + "-" + info->name());
  std::filesystem::remove_all(name);
  std::filesystem::create_directories(name);
  return ScratchDir(name.string());
}

inline std::filesystem::path write_bytes(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
  return path;
}

inline std::string read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

}  // namespace tailor::formats::testing
