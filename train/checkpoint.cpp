#include "train/checkpoint.h"

#include <fcntl.h>
#include <ftw.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

#include "core/atomic_file.h"
#include "core/error.h"
#include "lora/adapter.h"

namespace tailor::train {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kFolderPrefix = "checkpoint-";
constexpr const char* kTempPrefix = ".tmp-checkpoint-";
constexpr const char* kTrashPrefix = ".trash-checkpoint-";

struct FileDigest {
  uint64_t bytes = 0;
  std::string xxh3_128;
};

// Hashes a file and fsyncs it on the way (so the manifest never vouches for bytes still in page cache).
FileDigest digest_file(const fs::path& file, bool sync) {
  int fd = ::open(file.c_str(), O_RDONLY);
  if (fd < 0) throw std::runtime_error("cannot open '" + file.string() + "'");
  XXH3_state_t* state = XXH3_createState();
  XXH3_128bits_reset(state);
  FileDigest d;
  std::array<char, 1 << 16> buffer;
  for (;;) {
    ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0) {
      XXH3_freeState(state);
      ::close(fd);
      throw std::runtime_error("cannot read '" + file.string() + "'");
    }
    if (n == 0) break;
    XXH3_128bits_update(state, buffer.data(), static_cast<size_t>(n));
    d.bytes += static_cast<uint64_t>(n);
  }
  XXH128_hash_t h = XXH3_128bits_digest(state);
  XXH3_freeState(state);
  int rc = sync ? ::fsync(fd) : 0;
  ::close(fd);
  if (rc != 0) throw std::runtime_error("cannot fsync '" + file.string() + "'");
  char hex[33];
  std::snprintf(hex, sizeof hex, "%016llx%016llx", static_cast<unsigned long long>(h.high64),
                static_cast<unsigned long long>(h.low64));
  d.xxh3_128 = hex;
  return d;
}

// Regular files under `folder`, as sorted relative paths; sub-folders are fsync'ed when `sync`.
std::vector<std::string> files_under(const fs::path& folder, bool sync) {
  std::vector<std::string> out;
  for (const auto& entry : fs::recursive_directory_iterator(folder)) {
    if (entry.is_directory()) {
      if (sync) fsync_directory(entry.path());
    } else if (entry.is_regular_file()) {
      out.push_back(fs::relative(entry.path(), folder).generic_string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::optional<int64_t> step_of(const std::string& name) {
  if (!name.starts_with(kFolderPrefix)) return std::nullopt;
  std::string_view digits(name);
  digits.remove_prefix(std::char_traits<char>::length(kFolderPrefix));
  int64_t step = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), step);
  if (ec != std::errc() || end != digits.data() + digits.size() || digits.empty()) return std::nullopt;
  return step;
}

std::string read_text(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw InputError(file.string() + ": cannot open");
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void remove_stale_temp_folders(const fs::path& root) {
  for (const auto& entry : fs::directory_iterator(root)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_directory() && (name.starts_with(kTempPrefix) || name.starts_with(kTrashPrefix))) {
      remove_tree(entry.path());
    }
  }
}

}  // namespace

fs::path write_checkpoint(const fs::path& root, int64_t step, const std::function<void(const fs::path&)>& fill,
                          int keep_last) {
  fs::create_directories(root);
  remove_stale_temp_folders(root);
  const std::string name = kFolderPrefix + std::to_string(step);
  const fs::path temp = root / (kTempPrefix + std::to_string(step) + "-" + std::to_string(::getpid()));
  const fs::path final_folder = root / name;
  fs::create_directories(temp);
  fill(temp);

  json manifest;
  manifest["format"] = "tailor-checkpoint";
  manifest["version"] = 1;
  manifest["step"] = step;
  manifest["files"] = json::array();
  for (const auto& rel : files_under(temp, /*sync=*/true)) {
    if (rel == kManifestFile) throw std::logic_error("checkpoint contents must not include manifest.json");
    FileDigest d = digest_file(temp / rel, /*sync=*/true);
    manifest["files"].push_back({{"path", rel}, {"bytes", d.bytes}, {"xxh3_128", d.xxh3_128}});
  }
  write_file_atomic(temp / kManifestFile, manifest.dump(2) + "\n");
  fsync_directory(temp);

  if (fs::exists(final_folder)) {
    // An earlier, possibly broken, folder for the same step: set it aside first, drop it once replaced.
    const fs::path trash = root / (kTrashPrefix + std::to_string(step) + "-" + std::to_string(::getpid()));
    fs::rename(final_folder, trash);
    fs::rename(temp, final_folder);
    fsync_directory(root);
    remove_tree(trash);
  } else {
    fs::rename(temp, final_folder);
    fsync_directory(root);
  }

  if (keep_last > 0) {
    std::vector<std::pair<int64_t, fs::path>> valid;
    for (auto& [s, folder] : list_checkpoints(root))
      if (!checkpoint_problem(folder)) valid.emplace_back(s, folder);
    for (size_t i = 0; i + static_cast<size_t>(keep_last) < valid.size(); ++i) remove_tree(valid[i].second);
    fsync_directory(root);
  }
  return final_folder;
}

std::vector<std::pair<int64_t, fs::path>> list_checkpoints(const fs::path& root) {
  std::vector<std::pair<int64_t, fs::path>> out;
  if (!fs::is_directory(root)) return out;
  for (const auto& entry : fs::directory_iterator(root))
    if (entry.is_directory())
      if (auto step = step_of(entry.path().filename().string())) out.emplace_back(*step, entry.path());
  std::sort(out.begin(), out.end());
  return out;
}

std::optional<std::string> checkpoint_problem(const fs::path& folder) {
  const fs::path manifest_file = folder / kManifestFile;
  if (!fs::is_regular_file(manifest_file)) return "no " + std::string(kManifestFile) + " (the write did not finish)";
  json manifest;
  try {
    manifest = json::parse(read_text(manifest_file));
    std::set<std::string> listed;
    for (const auto& f : manifest.at("files")) {
      const std::string rel = f.at("path").get<std::string>();
      listed.insert(rel);
      const fs::path file = folder / rel;
      if (!fs::is_regular_file(file)) return "file '" + rel + "' is missing";
      FileDigest d = digest_file(file, /*sync=*/false);
      if (d.bytes != f.at("bytes").get<uint64_t>())
        return "file '" + rel + "' has " + std::to_string(d.bytes) + " bytes, the manifest says " +
               std::to_string(f.at("bytes").get<uint64_t>());
      if (d.xxh3_128 != f.at("xxh3_128").get<std::string>()) return "file '" + rel + "' does not match its hash";
    }
    for (const auto& rel : files_under(folder, /*sync=*/false))
      if (rel != kManifestFile && !listed.count(rel)) return "file '" + rel + "' is not in the manifest";
  } catch (const json::exception& e) {
    return std::string(kManifestFile) + " is malformed: " + e.what();
  } catch (const std::exception& e) {
    return e.what();
  }
  return std::nullopt;
}

std::optional<fs::path> find_latest_checkpoint(const fs::path& root) {
  auto all = list_checkpoints(root);
  for (auto it = all.rbegin(); it != all.rend(); ++it)
    if (!checkpoint_problem(it->second)) return it->second;
  return std::nullopt;
}

fs::path save_checkpoint(const fs::path& root, const lora::Adapter& adapter, const TrainState& state, int keep_last) {
  return write_checkpoint(
      root, state.step,
      [&](const fs::path& folder) {
        adapter.save(folder / kAdapterFolder);
        std::vector<std::pair<std::string, at::Tensor>> tensors(state.tensors.begin(), state.tensors.end());
        lora::write_safetensors_tensors(folder / kStateTensorsFile, tensors);
        json trainer_state = {{"step", state.step}, {"trainer", state.trainer}};
        write_file_atomic(folder / kTrainerStateFile, trainer_state.dump(2) + "\n");
        write_file_atomic(folder / kRecipeFile, state.recipe);
      },
      keep_last);
}

TrainState load_checkpoint(const fs::path& folder, lora::Adapter& adapter) {
  if (auto problem = checkpoint_problem(folder)) throw InputError(folder.string() + ": not a usable checkpoint: " + *problem);
  TrainState state;
  try {
    json trainer_state = json::parse(read_text(folder / kTrainerStateFile));
    state.step = trainer_state.at("step").get<int64_t>();
    state.trainer = trainer_state.at("trainer");
  } catch (const json::exception& e) {
    throw InputError((folder / kTrainerStateFile).string() + ": " + e.what());
  }
  state.recipe = read_text(folder / kRecipeFile);
  state.tensors = lora::read_safetensors_tensors(folder / kStateTensorsFile);
  adapter.load_weights(folder / kAdapterFolder);
  return state;
}

}  // namespace tailor::train
