// `tailor export`: merge an adapter into its base and write it for a runtime (HF folder, PEFT adapter,
// GGUF, Ollama). The library (export/export.h) does the work; this file only parses flags and reports.
#include <CLI/CLI.hpp>

#include <iostream>

#include "cli/verbs.h"
#include "export/export.h"

namespace tailor::cli {
namespace {

struct ExportFlags {
  std::string model, adapter, to, out;
  bool force = false;
  double max_shard_gb = 5.0;
  unsigned threads = 0;
};

void run_export_verb(const ExportFlags& f) {
  exporting::ExportRequest r;
  r.base = f.model;
  if (!f.adapter.empty()) r.adapter = f.adapter;
  r.target = f.to;
  r.out = f.out;
  r.force = f.force;
  r.max_shard_bytes = uint64_t(f.max_shard_gb * 1e9);
  r.threads = f.threads;
  auto result = exporting::run_export(r);
  for (const auto& note : result.notes) std::cerr << "note: " << note << "\n";
  std::cout << "exported " << f.to << " to " << result.out.string() << "\n";
  for (const auto& file : result.files) std::cout << "  " << file.string() << "\n";
}

const RegisterVerb export_verb(110, [](CLI::App& app) {
  auto flags = std::make_shared<ExportFlags>();
  auto* cmd = app.add_subcommand("export", "Merge an adapter into its base and export it: hf, peft, gguf[:TYPE], ollama");
  cmd->add_option("--model", flags->model, "Base model: HF folder or .gguf")->required();
  cmd->add_option("--adapter", flags->adapter, "PEFT adapter folder or `tailor run` folder (omit to convert the base)");
  cmd->add_option("--to", flags->to, "hf[:bf16|fp16|fp32] | peft | gguf[:F32|F16|BF16|Q8_0|Q4_0|Q4_K_M|Q5_K_M|Q6_K] | ollama[:TYPE]")
      ->required();
  cmd->add_option("--out", flags->out, "Output folder (created; never overwritten without --force)")->required();
  cmd->add_flag("--force", flags->force, "Replace an existing output folder");
  cmd->add_option("--max-shard-gb", flags->max_shard_gb, "HF export: shard safetensors above this size (GB)");
  cmd->add_option("--threads", flags->threads, "Quantization threads (0: all)");
  cmd->callback([flags] { run_export_verb(*flags); });
});

}  // namespace
}  // namespace tailor::cli
