// Run metrics as JSON records, one per line in RUN/metrics.jsonl. Everything a person sees — the
// progress line, `tailor data inspect`'s counts, the HTML report — is built from these same records.
//   {"kind":"train","step":12,"loss":2.31,"lr":1e-3,"grad_norm":0.8,"tokens":4096,"tokens_per_s":812,...}
//   {"kind":"eval","step":20,"loss":2.1,"perplexity":8.2,"bits_per_byte":1.3,"tokens":...}
//   {"kind":"sample","stage":"before"|"after","prompt":"...","text":"..."}
//   {"kind":"dataset",...counts}   {"kind":"event","step":..,"message":"..."}
#pragma once

#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <vector>

namespace tailor::train {

class MetricsLog {
 public:
  // Opens RUN/metrics.jsonl for appending. resume_step >= 0 first drops records of steps after it
  // (they belong to work the resumed run redoes), so a resumed log reads like an uninterrupted one.
  MetricsLog(const std::filesystem::path& path, long resume_step = -1);
  ~MetricsLog();
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;

  void write(const nlohmann::json& record);  // flushed per record: a killed run keeps its metrics
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  std::FILE* file_ = nullptr;
};

std::vector<nlohmann::json> read_metrics(const std::filesystem::path& path);

// Resident memory of this process in bytes (current and peak), from /proc.
size_t resident_bytes();
size_t peak_resident_bytes();

}  // namespace tailor::train
