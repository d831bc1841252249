// Checkpoints that survive a crash at any instant: files go into a temp folder, each is fsync'ed and
// hashed into manifest.json (written last), the folder is fsync'ed and renamed to checkpoint-<step>, and
// the parent fsync'ed. A folder without a manifest matching its files is never used: resume picks the
// newest checkpoint whose manifest verifies. Only the newest `keep_last` are kept.
#pragma once

#include "core/atomic_file.h"

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace tailor::lora {
class Adapter;
}

namespace tailor::train {

inline constexpr const char* kManifestFile = "manifest.json";
inline constexpr const char* kAdapterFolder = "adapter";
inline constexpr const char* kStateTensorsFile = "state.safetensors";
inline constexpr const char* kTrainerStateFile = "trainer_state.json";
inline constexpr const char* kRecipeFile = "recipe.yaml";

// "checkpoint-<step>" under `root`, built by `fill(temp_folder)`; returns the final folder. keep_last 0
// keeps all. Any failure leaves earlier checkpoints untouched.
std::filesystem::path write_checkpoint(const std::filesystem::path& root, int64_t step,
                                       const std::function<void(const std::filesystem::path&)>& fill,
                                       int keep_last);

// Every checkpoint-<step> folder under root (valid or not), oldest first.
std::vector<std::pair<int64_t, std::filesystem::path>> list_checkpoints(const std::filesystem::path& root);
// Why `folder` is not a usable checkpoint (missing/extra file, size or hash mismatch), or nullopt if it is.
std::optional<std::string> checkpoint_problem(const std::filesystem::path& folder);
// The newest checkpoint whose manifest verifies; nullopt when there is none (`resume: auto` starts fresh).
std::optional<std::filesystem::path> find_latest_checkpoint(const std::filesystem::path& root);

using tailor::remove_tree;  // core/atomic_file.h

// What a resume needs besides the adapter weights.
struct TrainState {
  int64_t step = 0;
  nlohmann::json trainer = nlohmann::json::object();  // schedule, counters, data cursor: anything JSON
  std::string recipe;                                 // the resolved recipe (YAML)
  std::map<std::string, at::Tensor> tensors;          // optimizer moments, RNG states
};

// The standard layout: adapter/ (PEFT), state.safetensors, trainer_state.json, recipe.yaml, manifest.json.
std::filesystem::path save_checkpoint(const std::filesystem::path& root, const lora::Adapter& adapter,
                                      const TrainState& state, int keep_last);
// Verifies the manifest, loads the adapter weights into `adapter` and returns the rest. InputError
// naming the folder if it does not verify.
TrainState load_checkpoint(const std::filesystem::path& folder, lora::Adapter& adapter);

}  // namespace tailor::train
