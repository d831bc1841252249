// Test-only bridge from the Python parity tests to the formats library: dumps what tailor reads
// (a JSON manifest on stdout plus raw tensor bytes / dequantized floats in a folder) and writes
// safetensors files from a JSON manifest. Input errors exit 2 with the message on stderr.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "core/error.h"
#include "formats/gguf.h"
#include "formats/safetensors.h"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace tailor::formats;

namespace {

void write_raw(const fs::path& path, const void* data, size_t n) {
  std::ofstream out(path, std::ios::binary);
  out.write(static_cast<const char*>(data), std::streamsize(n));
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

std::string read_all(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

std::string hex(const std::string& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

// safetensors-read PATH OUTDIR: the checkpoint's tensors, each as OUTDIR/<i>.bin.
int safetensors_read(const fs::path& path, const fs::path& outdir) {
  SafetensorsCheckpoint checkpoint(path);
  json out = {{"tensors", json::array()}, {"metadata", json::object()}};
  if (checkpoint.shards().size() == 1) out["metadata"] = checkpoint.shards()[0].metadata();
  size_t i = 0;
  for (const std::string& name : checkpoint.names()) {
    const TensorView& view = checkpoint.at(name);
    std::string file = std::to_string(i++) + ".bin";
    write_raw(outdir / file, view.data, view.nbytes);
    out["tensors"].push_back({{"name", name}, {"dtype", dtype_name(view.dtype)}, {"shape", view.shape}, {"file", file}});
  }
  std::cout << out.dump() << "\n";
  return 0;
}

// safetensors-write MANIFEST OUT [MAX_SHARD_BYTES]: tensors {name, dtype, shape, file} and metadata;
// with MAX_SHARD_BYTES, OUT is a checkpoint folder.
int safetensors_write(const fs::path& manifest_path, const fs::path& out, const char* max_shard) {
  json manifest = json::parse(read_all(manifest_path));
  std::vector<std::string> storage;
  std::vector<TensorView> views;
  storage.reserve(manifest["tensors"].size());
  for (const json& t : manifest["tensors"]) {
    storage.push_back(read_all(manifest_path.parent_path() / t["file"].get<std::string>()));
    auto dtype = parse_dtype(t["dtype"].get<std::string>());
    if (!dtype) throw tailor::InputError("unknown dtype " + t["dtype"].get<std::string>());
    views.push_back({t["name"], *dtype, t["shape"].get<std::vector<int64_t>>(),
                     reinterpret_cast<const std::byte*>(storage.back().data()), storage.back().size()});
  }
  auto metadata = manifest.value("metadata", json::object()).get<std::map<std::string, std::string>>();
  if (!max_shard) {
    write_safetensors(out, views, metadata);
  } else {
    ShardedWriteOptions options;
    options.max_shard_bytes = std::stoull(max_shard);
    options.metadata = metadata;
    json files = json::array();
    for (const fs::path& p : write_safetensors_checkpoint(out, views, options)) files.push_back(p.filename().string());
    std::cout << files.dump() << "\n";
  }
  return 0;
}

json gguf_value_json(const GgufValue& value) {
  return std::visit(
      [](const auto& v) -> json {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          return hex(v);
        } else if constexpr (std::is_same_v<T, GgufArray>) {
          return std::visit(
              [](const auto& items) -> json {
                using V = std::decay_t<decltype(items)>;
                if constexpr (std::is_same_v<V, std::monostate>) {
                  return json::array();
                } else {
                  json out = json::array();
                  for (const auto& item : items) {
                    if constexpr (std::is_same_v<typename V::value_type, std::string>) out.push_back(hex(item));
                    else out.push_back(static_cast<typename V::value_type>(item));
                  }
                  return out;
                }
              },
              v.items);
        } else {
          return v;
        }
      },
      value.storage());
}

// gguf-read PATH OUTDIR ROWS_PER_CALL: metadata and tensor infos as JSON; every dequantizable tensor
// as OUTDIR/<i>.f32, produced by dequantize_rows over chunks of ROWS_PER_CALL rows.
int gguf_read(const fs::path& path, const fs::path& outdir, int64_t rows_per_call) {
  GgufFile file(path);
  json out = {{"version", file.version()}, {"alignment", file.alignment()}, {"data_offset", file.data_offset()},
              {"metadata", json::array()}, {"tensors", json::array()}};
  for (const GgufKeyValue& kv : file.metadata()) {
    json entry = {{"key", kv.key}, {"type", gguf_value_type_name(kv.value.type())}, {"value", gguf_value_json(kv.value)}};
    if (kv.value.type() == GgufValueType::ARRAY)
      entry["element_type"] = gguf_value_type_name(kv.value.as_array().element_type());
    out["metadata"].push_back(entry);
  }
  size_t i = 0;
  for (const GgufTensorInfo& t : file.tensors()) {
    json entry = {{"name", t.name}, {"type", gguf_type_name(t.type)}, {"ne", t.ne}, {"shape", t.shape()},
                  {"offset", t.offset}, {"nbytes", t.nbytes}};
    if (gguf_type_info(uint32_t(t.type))->dequantizable) {
      std::vector<float> values(size_t(t.numel()));
      for (int64_t r = 0; r < t.rows(); r += rows_per_call)
        dequantize_rows(t, r, std::min(t.rows(), r + rows_per_call), values.data() + r * t.row_length());
      std::string name = std::to_string(i) + ".f32";
      write_raw(outdir / name, values.data(), values.size() * sizeof(float));
      entry["file"] = name;
    }
    ++i;
    out["tensors"].push_back(entry);
  }
  std::cout << out.dump() << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string verb = argc > 1 ? argv[1] : "";
  try {
    if (verb == "safetensors-read" && argc == 4) return safetensors_read(argv[2], argv[3]);
    if (verb == "safetensors-write" && (argc == 4 || argc == 5))
      return safetensors_write(argv[2], argv[3], argc == 5 ? argv[4] : nullptr);
    if (verb == "gguf-read" && argc == 5) return gguf_read(argv[2], argv[3], std::stoll(argv[4]));
  } catch (const tailor::InputError& e) {
    std::cerr << e.what() << "\n";
    return 2;
  }
  std::cerr << "usage: formats_tool safetensors-read PATH OUTDIR | safetensors-write MANIFEST OUT [MAX_SHARD_BYTES]"
               " | gguf-read PATH OUTDIR ROWS_PER_CALL\n";
  return 64;
}
