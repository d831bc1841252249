#include "train/recipe.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/yaml_reader.h"

namespace tailor::train {

namespace fs = std::filesystem;

std::vector<std::pair<std::string, std::string>> embedded_recipes();  // generated from recipes/*.yaml

namespace {

fs::path project_home() {
  if (const char* home = std::getenv("TAILOR_HOME")) return home;
  return TAILOR_SOURCE_DIR;
}

YAML::Node load_yaml(const std::string& text, const std::string& where) {
  try {
    YAML::Node root = YAML::Load(text);
    if (!root.IsMap()) throw InputError(where + ": expected a YAML mapping of recipe keys");
    return root;
  } catch (const YAML::Exception& e) {
    throw InputError(where + ":" + std::to_string(e.mark.line + 1) + ": invalid YAML: " + e.msg);
  }
}

}  // namespace

const std::vector<BuiltinRecipe>& builtin_recipes() {
  static const std::vector<BuiltinRecipe> recipes = [] {
    std::vector<BuiltinRecipe> out;
    for (auto& [name, yaml] : embedded_recipes()) {
      YAML::Node root = YAML::Load(yaml);
      out.push_back({name, root["description"] ? root["description"].as<std::string>() : "", yaml});
    }
    return out;
  }();
  return recipes;
}

Recipe load_recipe(const std::string& name_or_path, const std::vector<std::string>& overrides) {
  Recipe recipe;
  recipe.source = name_or_path;
  YAML::Node root;
  bool builtin = false;
  for (const auto& r : builtin_recipes()) {
    if (r.name == name_or_path) {
      root = load_yaml(r.yaml, "built-in recipe " + r.name);
      recipe.name = r.name;
      builtin = true;
    }
  }
  if (!builtin) {
    std::ifstream in(name_or_path);
    if (!in) {
      std::string names;
      for (const auto& r : builtin_recipes()) names += (names.empty() ? "" : ", ") + r.name;
      throw InputError("recipe '" + name_or_path + "': no such file and no built-in recipe of that name (built-in: " +
                       names + ")");
    }
    std::stringstream text;
    text << in.rdbuf();
    root = load_yaml(text.str(), name_or_path);
    recipe.name = fs::path(name_or_path).stem().string();
    recipe.base_dir = fs::absolute(name_or_path).parent_path();
  } else {
    recipe.base_dir = project_home();
  }
  bool model_overridden = false;
  for (const auto& o : overrides) {
    apply_override(root, o);
    model_overridden |= o.starts_with("model=");
  }

  std::vector<std::string> errors;
  const std::string where = builtin ? "recipe " + recipe.name : name_or_path;
  YamlReader top(root, where, errors);
  top.read("description", recipe.description);
  if (!top.read("model", recipe.model)) top.error("model", "missing: the base model (HF folder or .gguf); set model=PATH");
  // A model named on the command line is relative to where tailor runs; one in the recipe, to the recipe.
  else if (fs::path(recipe.model).is_relative())
    recipe.model = (model_overridden ? fs::absolute(recipe.model) : recipe.base_dir / recipe.model).lexically_normal();
  if (!top.read("output_dir", recipe.output_dir)) recipe.output_dir = "runs/" + recipe.name;
  top.read("seed", recipe.seed);
  top.read("max_steps", recipe.max_steps);
  if (recipe.max_steps <= 0) top.error("max_steps", "must be positive");
  top.read("samples", recipe.samples);
  top.read("sample_tokens", recipe.sample_tokens);
  top.read("export", recipe.exports);
  for (const auto& target : recipe.exports) {
    std::string kind = target.substr(0, target.find(':'));
    if (kind != "hf" && kind != "peft" && kind != "gguf" && kind != "ollama")
      top.error("export", "'" + target + "' is not an export target (hf[:dtype], peft, gguf[:TYPE], ollama[:TYPE])");
  }
  top.accept("data");
  recipe.data = root["data"];
  if (!recipe.data || !recipe.data.IsMap()) top.error("data", "missing: the data section (sources, max_seq_len, ...)");

  auto& l = recipe.lora;
  YamlReader lora(top.section("lora"), where + ": lora", errors);
  lora.read("r", l.r);
  lora.read("alpha", l.alpha);
  lora.read("dropout", l.dropout);
  lora.read("targets", l.targets);
  lora.read("rslora", l.rslora);
  lora.read("dora", l.dora);
  lora.read_choice("init", l.init, {"default", "gaussian", "pissa"});
  lora.read("modules_to_save", l.modules_to_save);
  lora.read_choice("quantize", l.quantize, {"none", "nf4", "gguf"});
  lora.read("full_finetune", l.full_finetune);
  if (l.r <= 0) lora.error("r", "must be positive");
  if (l.dropout < 0 || l.dropout >= 1) lora.error("dropout", "must be in [0, 1)");
  lora.finish();

  auto& o = recipe.optim;
  YamlReader optim(top.section("optim"), where + ": optim", errors);
  optim.read("lr", o.lr);
  optim.read("weight_decay", o.weight_decay);
  optim.read("beta1", o.beta1);
  optim.read("beta2", o.beta2);
  optim.read("eps", o.eps);
  optim.read("grad_clip", o.grad_clip);
  optim.read_choice("schedule", o.schedule, {"constant", "linear", "cosine"});
  optim.read("warmup_steps", o.warmup_steps);
  if (o.lr <= 0) optim.error("lr", "must be positive");
  optim.finish();

  auto& t = recipe.train;
  YamlReader train(top.section("train"), where + ": train", errors);
  train.read("batch_size", t.batch_size);
  train.read("grad_accum", t.grad_accum);
  train.read("activation_checkpointing", t.activation_checkpointing);
  train.read_choice("dtype", t.dtype, {"float32", "bfloat16"});
  train.read_choice("kernels", t.kernels, {"fused", "reference"});
  train.read_choice("device", t.device, {"auto", "cpu", "cuda"});
  train.read("threads", t.threads);
  train.read("log_every", t.log_every);
  train.read("eval_every", t.eval_every);
  train.read("checkpoint_every", t.checkpoint_every);
  train.read("keep_checkpoints", t.keep_checkpoints);
  train.read_choice("resume", t.resume, {"auto", "never"});
  train.read("max_bad_steps", t.max_bad_steps);
  if (t.batch_size <= 0) train.error("batch_size", "must be positive");
  if (t.grad_accum <= 0) train.error("grad_accum", "must be positive");
  if (t.keep_checkpoints < 1) train.error("keep_checkpoints", "must be at least 1");
  train.finish();
  top.finish();

  if (!errors.empty()) {
    std::string message = std::to_string(errors.size()) + " problem" + (errors.size() > 1 ? "s" : "") + " in " + where + ":";
    for (const auto& e : errors) message += "\n  " + e;
    throw InputError(message);
  }
  recipe.resolved = root;
  return recipe;
}

std::string to_yaml(const Recipe& recipe) {
  YAML::Emitter out;
  out << recipe.resolved;
  return std::string(out.c_str()) + "\n";
}

}  // namespace tailor::train
