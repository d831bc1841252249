// One export, as `tailor export` and a recipe's `export:` list ask for it: the target is built in a
// temporary folder beside the output and renamed into place, so a failed export leaves nothing behind;
// an existing output is replaced only with `force`.
//
//   hf[:bf16|fp16|fp32]   merged HF folder          peft            the adapter in PEFT layout
//   gguf[:TYPE]           merged GGUF (F16 default; F32 BF16 Q8_0 Q4_0 Q4_K_M Q5_K_M Q6_K) plus
//                         adapter.gguf (GGUF LoRA) when the adapter has a plain LoRA form
//   ollama[:TYPE]         merged GGUF (Q4_K_M default) + Modelfile
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace tailor::exporting {

struct ExportRequest {
  std::filesystem::path base;                     // HF folder or .gguf
  std::optional<std::filesystem::path> adapter;   // PEFT folder or `tailor run` folder; none: convert the base
  std::string target;                             // "hf", "gguf:Q4_K_M", ...
  std::filesystem::path out;                      // the folder to create
  bool force = false;
  uint64_t max_shard_bytes = 5'000'000'000;
  unsigned threads = 0;
};

struct ExportResult {
  std::filesystem::path out;
  std::vector<std::filesystem::path> files;  // relative to out
  std::vector<std::string> notes;            // merge notes and anything skipped
};

// Throws InputError for an unknown target, an existing output without force, or an adapter that does
// not fit the base.
ExportResult run_export(const ExportRequest& request);

// For the trainer: runs every target of a recipe's `export:` list into RUN_DIR/export/<target with ':'
// replaced by '-'>/ (replacing earlier exports of the same target). Returns one result per target.
std::vector<ExportResult> export_run(const std::filesystem::path& base, const std::filesystem::path& run_dir,
                                     const std::vector<std::string>& targets);

}  // namespace tailor::exporting
