#include "formats/safetensors.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <unordered_set>

#include "core/atomic_file.h"
#include "core/error.h"

namespace tailor::formats {
namespace {

using nlohmann::json;

[[noreturn]] void fail(const std::filesystem::path& file, const std::string& what) {
  throw InputError(file.string() + ": " + what);
}

[[noreturn]] void fail_tensor(const std::filesystem::path& file, std::string_view tensor, const std::string& what) {
  throw InputError(file.string() + ": tensor '" + std::string(tensor) + "': " + what);
}

// Parses the header JSON, rejecting duplicate keys, nesting deeper than the format needs and more
// tensors / longer names than limits.md allows, while parsing (before the values are built).
json parse_header(const std::filesystem::path& file, std::string_view text) {
  std::unordered_set<std::string> names, fields;
  size_t tensor_count = 0;
  auto guard = [&](int depth, json::parse_event_t event, json& parsed) {
    if ((event == json::parse_event_t::object_start || event == json::parse_event_t::array_start) && depth > 2)
      fail(file, "header nests deeper than a safetensors header can");
    if (event == json::parse_event_t::object_start && depth == 1) fields.clear();
    if (event != json::parse_event_t::key) return true;
    const std::string& key = parsed.get_ref<const std::string&>();
    if (depth == 1) {
      if (key.size() > kSafetensorsMaxNameBytes)
        fail(file, "tensor name of " + std::to_string(key.size()) + " bytes exceeds the limit of " +
                       std::to_string(kSafetensorsMaxNameBytes));
      if (!names.insert(key).second) fail_tensor(file, key, "duplicate tensor name in the header");
      if (key != "__metadata__" && ++tensor_count > kSafetensorsMaxTensors)
        fail(file, "header lists more than " + std::to_string(kSafetensorsMaxTensors) + " tensors");
    } else if (depth == 2 && !fields.insert(key).second) {
      fail(file, "duplicate field '" + key + "' in the header");
    }
    return true;
  };
  try {
    return json::parse(text.begin(), text.end(), guard);
  } catch (const json::exception& e) {
    fail(file, std::string("header is not valid JSON: ") + e.what());
  }
}

uint64_t read_u64_le(const std::byte* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | std::to_integer<uint64_t>(p[i]);
  return v;
}

uint64_t unsigned_field(const std::filesystem::path& file, std::string_view tensor, const json& value,
                        const char* what) {
  if (!value.is_number_unsigned() && !(value.is_number_integer() && value.get<int64_t>() >= 0))
    fail_tensor(file, tensor, std::string(what) + " must hold non-negative integers, got " + value.dump());
  return value.get<uint64_t>();
}

// Bytes that `shape` elements of `dtype` occupy; overflow and partial bytes are errors (reference validate()).
uint64_t expected_bytes(const std::filesystem::path& file, std::string_view tensor, DType dtype,
                        const std::vector<int64_t>& shape) {
  uint64_t numel = 1;
  for (int64_t d : shape)
    if (__builtin_mul_overflow(numel, uint64_t(d), &numel) || numel > uint64_t(std::numeric_limits<int64_t>::max()))
      fail_tensor(file, tensor, "element count overflows");
  uint64_t bits;
  if (__builtin_mul_overflow(numel, uint64_t(dtype_bits(dtype)), &bits)) fail_tensor(file, tensor, "byte size overflows");
  if (bits % 8 != 0)
    fail_tensor(file, tensor, std::to_string(numel) + " elements of " + std::string(dtype_name(dtype)) +
                                  " do not fill whole bytes");
  return bits / 8;
}

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

}  // namespace

SafetensorsFile::SafetensorsFile(const std::filesystem::path& path) : file_(MappedFile::open(path)) {
  const size_t size = file_->size();
  if (size < 8) fail(path, "file is " + std::to_string(size) + " bytes, too short for a safetensors header");
  const uint64_t header_len = read_u64_le(file_->data());
  if (header_len > kSafetensorsMaxHeaderBytes)
    fail(path, "header length " + std::to_string(header_len) + " exceeds the limit of " +
                   std::to_string(kSafetensorsMaxHeaderBytes) + " bytes");
  if (header_len > size - 8)
    fail(path, "header length " + std::to_string(header_len) + " runs past the end of the " +
                   std::to_string(size) + "-byte file");
  std::string_view text(reinterpret_cast<const char*>(file_->data()) + 8, header_len);
  if (text.empty() || text.front() != '{') fail(path, "header does not start with '{'");
  json header = parse_header(path, text);
  if (!header.is_object()) fail(path, "header is not a JSON object");

  struct Entry {
    uint64_t begin, end;
    size_t index;
  };
  std::vector<Entry> entries;
  for (auto& [name, info] : header.items()) {
    if (name == "__metadata__") {
      if (!info.is_object()) fail(path, "__metadata__ is not an object of strings");
      for (auto& [key, value] : info.items()) {
        if (!value.is_string()) fail(path, "__metadata__ value of '" + key + "' is not a string");
        metadata_[key] = value.get<std::string>();
      }
      continue;
    }
    if (!info.is_object()) fail_tensor(path, name, "entry is not an object");
    auto dtype_it = info.find("dtype"), shape_it = info.find("shape"), offsets_it = info.find("data_offsets");
    if (dtype_it == info.end() || shape_it == info.end() || offsets_it == info.end())
      fail_tensor(path, name, "entry needs dtype, shape and data_offsets");
    if (!dtype_it->is_string()) fail_tensor(path, name, "dtype is not a string");
    auto dtype = parse_dtype(dtype_it->get_ref<const std::string&>());
    if (!dtype) fail_tensor(path, name, "unknown dtype '" + dtype_it->get<std::string>() + "'");
    if (!shape_it->is_array()) fail_tensor(path, name, "shape is not an array");
    TensorView view;
    view.name = name;
    view.dtype = *dtype;
    for (const json& d : *shape_it) {
      uint64_t dim = unsigned_field(path, name, d, "shape");
      if (dim > uint64_t(std::numeric_limits<int64_t>::max())) fail_tensor(path, name, "shape dimension too large");
      view.shape.push_back(int64_t(dim));
    }
    if (!offsets_it->is_array() || offsets_it->size() != 2) fail_tensor(path, name, "data_offsets is not [begin, end]");
    uint64_t begin = unsigned_field(path, name, (*offsets_it)[0], "data_offsets");
    uint64_t end = unsigned_field(path, name, (*offsets_it)[1], "data_offsets");
    entries.push_back({begin, end, tensors_.size()});
    tensors_.push_back(std::move(view));
  }

  // Sorted by offset, the tensors must tile the data buffer exactly: no hole, no overlap, no tail.
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return std::tie(a.begin, a.end) < std::tie(b.begin, b.end); });
  const uint64_t data_start = 8 + header_len;
  const uint64_t data_size = size - data_start;
  uint64_t cursor = 0;
  std::vector<TensorView> ordered;
  ordered.reserve(tensors_.size());
  for (const Entry& e : entries) {
    TensorView& view = tensors_[e.index];
    if (e.begin != cursor || e.end < e.begin)
      fail_tensor(path, view.name, "data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
                                       "] do not start where the previous tensor ends (" + std::to_string(cursor) +
                                       "): offsets overlap or leave a gap");
    if (e.end > data_size)
      fail_tensor(path, view.name, "data_offsets end " + std::to_string(e.end) + " lies past the data buffer of " +
                                       std::to_string(data_size) + " bytes");
    uint64_t bytes = expected_bytes(path, view.name, view.dtype, view.shape);
    if (bytes != e.end - e.begin)
      fail_tensor(path, view.name, std::string(dtype_name(view.dtype)) + " " + shape_string(view.shape) + " needs " +
                                       std::to_string(bytes) + " bytes, data_offsets span " +
                                       std::to_string(e.end - e.begin));
    view.data = file_->data() + data_start + e.begin;
    view.nbytes = size_t(e.end - e.begin);
    cursor = e.end;
    ordered.push_back(std::move(view));
  }
  if (cursor != data_size)
    fail(path, "tensors cover " + std::to_string(cursor) + " bytes but the data buffer holds " +
                   std::to_string(data_size));
  tensors_ = std::move(ordered);
  for (size_t i = 0; i < tensors_.size(); ++i) by_name_.emplace(tensors_[i].name, i);
}

const TensorView* SafetensorsFile::find(std::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &tensors_[it->second];
}

const TensorView& SafetensorsFile::at(std::string_view name) const {
  if (const TensorView* view = find(name)) return *view;
  fail_tensor(path(), name, "not found");
}

namespace {

// Shard file names come from an untrusted index: plain relative names inside the checkpoint folder.
std::filesystem::path shard_path(const std::filesystem::path& index, const std::string& name) {
  std::filesystem::path rel(name);
  if (name.empty() || rel.is_absolute() ||
      std::any_of(rel.begin(), rel.end(), [](const std::filesystem::path& part) { return part == ".."; }))
    fail(index, "weight_map names shard '" + name + "', which is not a file inside the checkpoint folder");
  return index.parent_path() / rel;
}

std::string read_small_file(const std::filesystem::path& path, uint64_t limit) {
  auto mapped = MappedFile::open(path);
  if (mapped->size() > limit) fail(path, "file is larger than " + std::to_string(limit) + " bytes");
  return std::string(reinterpret_cast<const char*>(mapped->data()), mapped->size());
}

}  // namespace

SafetensorsCheckpoint::SafetensorsCheckpoint(const std::filesystem::path& path) : path_(path) {
  std::filesystem::path target = path;
  if (std::filesystem::is_directory(path)) {
    if (std::filesystem::exists(path / "model.safetensors")) {
      target = path / "model.safetensors";
    } else if (std::filesystem::exists(path / "model.safetensors.index.json")) {
      target = path / "model.safetensors.index.json";
    } else {
      fail(path, "folder holds neither model.safetensors nor model.safetensors.index.json");
    }
  }
  if (target.extension() != ".json") {
    shards_.emplace_back(target);
  } else {
    json index;
    try {
      index = json::parse(read_small_file(target, kSafetensorsMaxHeaderBytes));
    } catch (const json::exception& e) {
      fail(target, std::string("index is not valid JSON: ") + e.what());
    }
    if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object())
      fail(target, "index has no weight_map object");
    std::map<std::string, size_t> shard_of_file;
    std::vector<std::pair<std::string, size_t>> expected;
    for (auto& [tensor, file] : index["weight_map"].items()) {
      if (!file.is_string()) fail_tensor(target, tensor, "weight_map value is not a file name");
      const std::string& name = file.get_ref<const std::string&>();
      auto [it, inserted] = shard_of_file.emplace(name, shard_of_file.size());
      if (inserted) shards_.emplace_back(shard_path(target, name));
      expected.emplace_back(tensor, it->second);
    }
    for (const auto& [tensor, shard] : expected)
      if (!shards_[shard].find(tensor))
        fail_tensor(target, tensor, "listed in weight_map but missing from " + shards_[shard].path().string());
  }
  for (size_t s = 0; s < shards_.size(); ++s)
    for (size_t t = 0; t < shards_[s].tensors().size(); ++t)
      if (!by_name_.emplace(shards_[s].tensors()[t].name, std::pair{s, t}).second)
        fail_tensor(shards_[s].path(), shards_[s].tensors()[t].name, "appears in more than one shard");
}

const TensorView* SafetensorsCheckpoint::find(std::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &shards_[it->second.first].tensors()[it->second.second];
}

const TensorView& SafetensorsCheckpoint::at(std::string_view name) const {
  if (const TensorView* view = find(name)) return *view;
  fail_tensor(path_, name, "not found in the checkpoint");
}

std::vector<std::string> SafetensorsCheckpoint::names() const {
  std::vector<std::string> out;
  out.reserve(by_name_.size());
  for (const auto& [name, where] : by_name_) out.emplace_back(name);
  return out;
}

namespace {

void check_writable(std::span<const TensorView> tensors) {
  std::set<std::string_view> seen;
  for (const TensorView& t : tensors) {
    if (!seen.insert(t.name).second) throw InputError("tensor '" + t.name + "': duplicate name");
    uint64_t numel = 1;
    for (int64_t d : t.shape) {
      if (d < 0) throw InputError("tensor '" + t.name + "': negative dimension in " + shape_string(t.shape));
      if (__builtin_mul_overflow(numel, uint64_t(d), &numel))
        throw InputError("tensor '" + t.name + "': element count overflows");
    }
    uint64_t bits;
    if (__builtin_mul_overflow(numel, uint64_t(dtype_bits(t.dtype)), &bits) || bits % 8 != 0 || bits / 8 != t.nbytes)
      throw InputError("tensor '" + t.name + "': " + std::string(dtype_name(t.dtype)) + " " + shape_string(t.shape) +
                       " does not match " + std::to_string(t.nbytes) + " bytes");
  }
}

// JSON text of a name or the metadata, as the reference's serde_json writes it (UTF-8 unescaped).
std::string json_text(const json& value, const char* what) {
  try {
    return value.dump();
  } catch (const json::exception&) {
    throw InputError(std::string(what) + " is not valid UTF-8: " + value.dump(-1, ' ', false, json::error_handler_t::replace));
  }
}

}  // namespace

void write_safetensors(const std::filesystem::path& file, std::span<const TensorView> tensors,
                       const std::map<std::string, std::string>& metadata) {
  check_writable(tensors);
  // The reference writer's order: widest dtype first, then by name.
  std::vector<const TensorView*> order;
  for (const TensorView& t : tensors) order.push_back(&t);
  std::sort(order.begin(), order.end(), [](const TensorView* a, const TensorView* b) {
    if (a->dtype != b->dtype) return a->dtype > b->dtype;
    return a->name < b->name;
  });
  std::string header = "{";
  if (!metadata.empty()) header += "\"__metadata__\":" + json_text(metadata, "metadata") + ",";
  uint64_t offset = 0;
  for (const TensorView* t : order) {
    header += json_text(t->name, "tensor name") + ":{\"dtype\":\"" + std::string(dtype_name(t->dtype)) + "\",\"shape\":[";
    for (size_t i = 0; i < t->shape.size(); ++i) {
      if (i) header += ',';
      header += std::to_string(t->shape[i]);
    }
    header += "],\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(offset + t->nbytes) + "]},";
    offset += t->nbytes;
  }
  if (header.back() == ',') header.pop_back();
  header += "}";
  header.append((8 - header.size() % 8) % 8, ' ');

  AtomicFile out(file);
  unsigned char length[8];
  for (int i = 0; i < 8; ++i) length[i] = static_cast<unsigned char>(uint64_t(header.size()) >> (8 * i));
  out.write(length, sizeof length);
  out.write(header);
  for (const TensorView* t : order) out.write(t->data, t->nbytes);
  out.commit();
}

std::vector<std::filesystem::path> write_safetensors_checkpoint(const std::filesystem::path& folder,
                                                                std::span<const TensorView> tensors,
                                                                const ShardedWriteOptions& options) {
  check_writable(tensors);
  std::filesystem::create_directories(folder);
  std::vector<std::vector<TensorView>> shards;
  std::vector<TensorView> current;
  uint64_t current_bytes = 0, total_bytes = 0;
  for (const TensorView& t : tensors) {
    total_bytes += t.nbytes;
    if (t.nbytes > options.max_shard_bytes) {
      shards.push_back({t});
      continue;
    }
    if (current_bytes + t.nbytes > options.max_shard_bytes) {
      shards.push_back(std::move(current));
      current.clear();
      current_bytes = 0;
    }
    current.push_back(t);
    current_bytes += t.nbytes;
  }
  if (!current.empty() || shards.empty()) shards.push_back(std::move(current));

  const std::filesystem::path single = folder / (options.base_name + ".safetensors");
  const std::filesystem::path index = folder / (options.base_name + ".safetensors.index.json");
  std::error_code ignored;
  if (shards.size() == 1) {
    write_safetensors(single, shards[0], options.metadata);
    std::filesystem::remove(index, ignored);
    return {single};
  }
  std::vector<std::filesystem::path> written;
  json weight_map = json::object();
  for (size_t i = 0; i < shards.size(); ++i) {
    char suffix[32];
    std::snprintf(suffix, sizeof suffix, "-%05zu-of-%05zu", i + 1, shards.size());
    std::string name = options.base_name + suffix + ".safetensors";
    write_safetensors(folder / name, shards[i], options.metadata);
    for (const TensorView& t : shards[i]) weight_map[t.name] = name;
    written.push_back(folder / name);
  }
  json index_json = {{"metadata", {{"total_size", total_bytes}}}, {"weight_map", weight_map}};
  write_file_atomic(index, index_json.dump(2) + "\n");
  std::filesystem::remove(single, ignored);
  written.push_back(index);
  return written;
}

}  // namespace tailor::formats
