#include "export/export.h"

#include <ATen/ATen.h>

#include <unistd.h>

#include "core/atomic_file.h"
#include "core/error.h"
#include "export/adapter_exports.h"
#include "export/gguf_model.h"
#include "export/hf_folder.h"
#include "export/merge.h"
#include "export/ollama.h"

namespace tailor::exporting {
namespace fs = std::filesystem;

namespace {

struct Target {
  std::string kind, option;
};

Target parse_target(const std::string& text) {
  const size_t colon = text.find(':');
  Target t{text.substr(0, colon), colon == std::string::npos ? "" : text.substr(colon + 1)};
  if (t.kind != "hf" && t.kind != "peft" && t.kind != "gguf" && t.kind != "ollama")
    throw InputError("export target '" + text + "': expected hf[:bf16|fp16|fp32], peft, gguf[:TYPE] or ollama[:TYPE]");
  return t;
}

at::ScalarType hf_dtype(const std::string& option) {
  if (option.empty() || option == "bf16" || option == "bfloat16") return at::kBFloat16;
  if (option == "fp16" || option == "f16" || option == "float16") return at::kHalf;
  if (option == "fp32" || option == "f32" || option == "float32") return at::kFloat;
  throw InputError("export target 'hf:" + option + "': expected bf16, fp16 or fp32");
}

GgufFileType gguf_type(const std::string& option, GgufFileType fallback) {
  if (option.empty()) return fallback;
  if (auto t = parse_gguf_file_type(option)) return *t;
  throw InputError("GGUF type '" + option + "': expected F32, F16, BF16, Q8_0, Q4_0, Q4_K_M, Q5_K_M or Q6_K");
}

std::string stem_for(const fs::path& base) {
  std::string stem = fs::is_directory(base) ? fs::absolute(base).lexically_normal().filename().string() : base.stem().string();
  if (stem.empty()) stem = fs::absolute(base).parent_path().filename().string();
  return stem.empty() ? "model" : stem;
}

void build(const ExportRequest& r, const Target& t, const fs::path& dir, ExportResult& result) {
  if (t.kind == "peft") {
    if (!r.adapter) throw InputError("export target 'peft' needs --adapter");
    write_peft_folder(r.base, *r.adapter, dir);
    return;
  }
  MergedModel merged = merge_adapter(r.base, r.adapter);
  result.notes = merged.notes;
  if (t.kind == "hf") {
    write_hf_folder(merged, dir, {hf_dtype(t.option), r.max_shard_bytes});
    return;
  }
  const GgufFileType type = gguf_type(t.option, t.kind == "ollama" ? GgufFileType::Q4_K_M : GgufFileType::F16);
  const std::string name = stem_for(r.base) + (r.adapter ? "-tailored" : "") + "-" + gguf_file_type_name(type) + ".gguf";
  write_gguf_model(merged, dir / name, {type, r.threads, stem_for(r.base)});
  if (t.kind == "ollama") {
    write_modelfile(r.base, dir, name);
  } else if (r.adapter) {
    try {
      write_gguf_lora(r.base, *r.adapter, dir / "adapter.gguf");
    } catch (const InputError& e) {
      result.notes.push_back(std::string("no adapter.gguf: ") + e.what());
    }
  }
}

}  // namespace

ExportResult run_export(const ExportRequest& r) {
  const Target target = parse_target(r.target);
  const fs::path out = fs::absolute(r.out).lexically_normal();
  if (fs::exists(out) && !r.force)
    throw InputError(out.string() + " already exists; pass --force to replace it");
  fs::create_directories(out.parent_path());
  const fs::path temp = out.parent_path() / ("." + out.filename().string() + ".tmp-" + std::to_string(::getpid()));
  remove_tree(temp);  // not fs::remove_all: see core/atomic_file.h
  fs::create_directories(temp);
  ExportResult result;
  try {
    build(r, target, temp, result);
    for (const auto& entry : fs::recursive_directory_iterator(temp))
      if (entry.is_regular_file()) result.files.push_back(fs::relative(entry.path(), temp));
    if (fs::exists(out)) {
      const fs::path old = out.parent_path() / ("." + out.filename().string() + ".old-" + std::to_string(::getpid()));
      fs::rename(out, old);
      fs::rename(temp, out);
      remove_tree(old);
    } else {
      fs::rename(temp, out);
    }
    fsync_directory(out.parent_path());
  } catch (...) {
    try {
      remove_tree(temp);
    } catch (...) {  // keep the export's own error
    }
    throw;
  }
  result.out = out;
  return result;
}

std::vector<ExportResult> export_run(const fs::path& base, const fs::path& run_dir, const std::vector<std::string>& targets) {
  std::vector<ExportResult> results;
  for (const auto& target : targets) {
    std::string folder = target;
    std::replace(folder.begin(), folder.end(), ':', '-');
    ExportRequest r;
    r.base = base;
    r.adapter = run_dir;
    r.target = target;
    r.out = run_dir / "export" / folder;
    r.force = true;
    results.push_back(run_export(r));
  }
  return results;
}

}  // namespace tailor::exporting
