// A recipe: the YAML file that says what to fine-tune, on what, and how. Built-in recipes (recipes/*.yaml)
// are compiled into the binary; any YAML path works too. Overrides `key.sub=value` apply before
// validation, and every problem in a recipe is reported at once.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace tailor::train {

struct LoraSection {
  int r = 16;
  double alpha = 32;
  double dropout = 0.0;
  std::vector<std::string> targets{"all-linear"};
  bool rslora = false;  // scale alpha / sqrt(r) instead of alpha / r
  bool dora = false;
  std::string init = "default";  // default (PEFT: kaiming-uniform A, zero B) | gaussian | pissa
  std::vector<std::string> modules_to_save;
  std::string quantize = "none";  // none | nf4 | gguf (keep a GGUF base's blocks quantized as loaded)
  bool full_finetune = false;     // train every weight instead of adapters (small models)
};

struct OptimSection {
  double lr = 2e-4;
  double weight_decay = 0.0;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double grad_clip = 1.0;  // max global grad norm; 0 disables
  std::string schedule = "cosine";  // constant | linear | cosine
  int warmup_steps = 0;
};

struct TrainSection {
  int batch_size = 4;
  int grad_accum = 1;
  bool activation_checkpointing = false;
  std::string dtype = "float32";  // float32 | bfloat16 (autocast compute; trainable params stay fp32)
  std::string kernels = "fused";  // fused | reference
  std::string device = "auto";    // auto | cpu | cuda
  int threads = 0;                // CPU threads; 0 = all cores
  int log_every = 1;
  int eval_every = 0;  // 0 = only at the end
  int checkpoint_every = 0;
  int keep_checkpoints = 2;
  std::string resume = "auto";  // auto | never
  int max_bad_steps = 5;        // consecutive non-finite steps that stop the run
};

struct Recipe {
  std::string name;         // built-in name or file stem
  std::string source;       // where it came from (built-in name or path), for messages
  std::filesystem::path base_dir;  // relative paths in the recipe resolve here (built-in: the project folder)
  std::string description;
  std::string model;        // HF folder or .gguf
  std::string output_dir;
  uint64_t seed = 0;
  int max_steps = 100;
  LoraSection lora;
  OptimSection optim;
  TrainSection train;
  YAML::Node data;                   // the data section, parsed and validated by data/
  std::vector<std::string> samples;  // prompts generated before and after training, for the report
  int sample_tokens = 48;
  std::vector<std::string> exports;  // formats to export when training ends (hf, peft, gguf:Q8_0, ollama)
  YAML::Node resolved;               // the whole recipe after overrides, as run
};

struct BuiltinRecipe {
  std::string name, description, yaml;
};

const std::vector<BuiltinRecipe>& builtin_recipes();

// name_or_path: a built-in name (see `tailor ls`) or a YAML file. Throws InputError listing every
// problem. Relative paths in a recipe resolve against its folder; a built-in recipe's against the
// project folder (TAILOR_HOME, else the source tree it was built from), so it runs from any directory.
Recipe load_recipe(const std::string& name_or_path, const std::vector<std::string>& overrides);

// The recipe's YAML text after overrides, for checkpoints and the report.
std::string to_yaml(const Recipe& recipe);

}  // namespace tailor::train
