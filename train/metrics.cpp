#include "train/metrics.h"

#include <unistd.h>

#include <fstream>
#include <stdexcept>
#include <string>

#include "core/atomic_file.h"

namespace tailor::train {

std::vector<nlohmann::json> read_metrics(const std::filesystem::path& path) {
  std::vector<nlohmann::json> records;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    auto record = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!record.is_discarded()) records.push_back(std::move(record));  // a torn last line from a kill
  }
  return records;
}

MetricsLog::MetricsLog(const std::filesystem::path& path, long resume_step) : path_(path) {
  if (resume_step >= 0 && std::filesystem::exists(path)) {
    std::string kept;
    for (const auto& r : read_metrics(path))
      if (!r.contains("step") || r["step"].get<long>() <= resume_step || r.value("kind", "") == "sample")
        kept += r.dump() + "\n";
    write_file_atomic(path, kept);
  }
  file_ = std::fopen(path.c_str(), "a");
  if (!file_) throw std::runtime_error("cannot open " + path.string() + " for appending");
}

MetricsLog::~MetricsLog() {
  if (file_) std::fclose(file_);
}

void MetricsLog::write(const nlohmann::json& record) {
  std::string line = record.dump() + "\n";
  std::fwrite(line.data(), 1, line.size(), file_);
  std::fflush(file_);
}

namespace {
size_t status_kib(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string key;
  while (in >> key) {
    if (key == field) {
      size_t kib = 0;
      in >> kib;
      return kib;
    }
    in.ignore(1 << 12, '\n');
  }
  return 0;
}
}  // namespace

size_t resident_bytes() { return status_kib("VmRSS:") * 1024; }
size_t peak_resident_bytes() { return status_kib("VmHWM:") * 1024; }

}  // namespace tailor::train
