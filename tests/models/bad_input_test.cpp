// Bad model input, end to end through the loader on real files: every case is one InputError that
// names the file and what was wrong, never a crash, an abort or a giant allocation. `make asan` runs
// these under AddressSanitizer + UBSan.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <ftw.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>

#include "core/error.h"
#include "formats/gguf_writer.h"
#include "formats/safetensors.h"
#include "models/model_loader.h"
#include "models/tensor_inventory.h"

namespace tailor::models {
namespace {

namespace fs = std::filesystem;

// A fresh folder per test, removed afterwards. (POSIX calls: the std::filesystem::remove_all that
// libtorch.so exports and the dynamic linker may pick is broken.)
struct Scratch {
  fs::path path;
  Scratch() {
    std::string pattern = (fs::temp_directory_path() / "tailor-models-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    path = pattern;
  }
  ~Scratch() {
    ::nftw(path.c_str(), [](const char* p, const struct stat*, int, struct FTW*) { return ::remove(p); }, 16,
           FTW_DEPTH | FTW_PHYS);
  }
};

const char* kConfig = R"({"architectures": ["LlamaForCausalLM"], "vocab_size": 61, "hidden_size": 16,
  "intermediate_size": 24, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2)";

std::string config_with(const std::string& extra) { return std::string(kConfig) + (extra.empty() ? "" : ", " + extra) + "}"; }

void write_text(const fs::path& file, const std::string& text) { std::ofstream(file, std::ios::binary) << text; }

// model.safetensors with `tensors` (float32).
void write_weights(const fs::path& folder, const std::map<std::string, at::Tensor>& tensors) {
  std::vector<formats::TensorView> views;
  for (const auto& [name, t] : tensors)
    views.push_back({name, formats::DType::F32, t.sizes().vec(), reinterpret_cast<const std::byte*>(t.data_ptr<float>()),
                     size_t(t.numel()) * 4});
  formats::write_safetensors(folder / "model.safetensors", views);
}

std::map<std::string, at::Tensor> weights_for(const ModelConfig& c) {
  std::map<std::string, at::Tensor> w;
  for (const TensorInfo& t : model_tensors(c)) w[t.hf_name] = at::randn(t.shape).contiguous();
  return w;
}

// The InputError message of f(), or a test failure when it throws nothing or something else.
std::string input_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not an InputError: " << e.what();
    return "";
  }
  ADD_FAILURE() << "no error";
  return "";
}

void expect_contains(const std::string& message, const std::string& needle) {
  EXPECT_NE(message.find(needle), std::string::npos) << "'" << needle << "' not in: " << message;
}

TEST(ModelBadInput, UnknownArchitectureListsTheSupportedOnes) {
  Scratch dir;
  write_text(dir.path / "config.json", R"({"architectures": ["GPT2LMHeadModel"], "vocab_size": 50})");
  const std::string message = input_error([&] { load_causal_lm(dir.path); });
  expect_contains(message, (dir.path / "config.json").string());
  expect_contains(message, "GPT2LMHeadModel");
  for (const ArchSpec* spec : all_architectures()) expect_contains(message, spec->name);
}

TEST(ModelBadInput, MissingTensorIsNamed) {
  Scratch dir;
  write_text(dir.path / "config.json", config_with(""));
  auto weights = weights_for(load_model_config(dir.path));
  weights.erase("model.layers.1.self_attn.v_proj.weight");
  write_weights(dir.path, weights);
  const std::string message = input_error([&] { load_causal_lm(dir.path); });
  expect_contains(message, dir.path.string());
  expect_contains(message, "missing tensor 'model.layers.1.self_attn.v_proj.weight'");
}

TEST(ModelBadInput, ShapeMismatchNamesTensorAndBothShapes) {
  Scratch dir;
  write_text(dir.path / "config.json", config_with(""));
  auto weights = weights_for(load_model_config(dir.path));
  weights["model.layers.0.mlp.down_proj.weight"] = at::zeros({16, 25});
  write_weights(dir.path, weights);
  const std::string message = input_error([&] { load_causal_lm(dir.path); });
  expect_contains(message, dir.path.string());
  expect_contains(message, "tensor 'model.layers.0.mlp.down_proj.weight': shape [16, 25], expected [16, 24]");
}

// A config far too big for its file is refused by the tensor check before anything is allocated
// (the embedding alone would be 1 TiB).
TEST(ModelBadInput, HugeConfigWithSmallFileFailsBeforeAllocating) {
  Scratch dir;
  write_text(dir.path / "config.json", config_with(""));
  write_weights(dir.path, weights_for(load_model_config(dir.path)));
  write_text(dir.path / "config.json", config_with(R"("vocab_size": 4194304, "hidden_size": 65536,
      "num_attention_heads": 512, "num_key_value_heads": 512, "intermediate_size": 1048576)"));
  const std::string message = input_error([&] { load_causal_lm(dir.path); });
  expect_contains(message, "model.embed_tokens.weight': shape [61, 16], expected [4194304, 65536]");
}

TEST(ModelBadInput, AbsurdConfigFieldsAreOneClearErrorEach) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"("hidden_size": 0)", "hidden_size"},
      {R"("hidden_size": -64)", "hidden_size"},
      {R"("hidden_size": 64.5)", "hidden_size"},
      {R"("hidden_size": 18446744073709551615)", "hidden_size"},
      {R"("num_attention_heads": 5)", "num_attention_heads"},  // 16 / 5 and no head_dim
      {R"("num_attention_heads": 0)", "num_attention_heads"},
      {R"("num_key_value_heads": 0)", "num_key_value_heads"},
      {R"("num_key_value_heads": 3)", "num_key_value_heads"},
      {R"("vocab_size": 1099511627776)", "vocab_size"},  // 2^40
      {R"("vocab_size": -1)", "vocab_size"},
      {R"("intermediate_size": 1099511627776)", "intermediate_size"},
      {R"("num_hidden_layers": 1000000)", "num_hidden_layers"},
      {R"("num_hidden_layers": null)", "num_hidden_layers"},
      {R"("head_dim": 3)", "head_dim"},
      {R"("head_dim": -8)", "head_dim"},
      {R"("max_position_embeddings": -1)", "max_position_embeddings"},
      {R"("rms_norm_eps": -1e-6)", "rms_norm_eps"},
      {R"("rope_theta": 0)", "rope_theta"},
      {R"("rope_scaling": {"rope_type": "linear", "factor": 0})", "factor"},
      {R"("rope_scaling": {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 0})",
       "original_max_position_embeddings"},
      {R"("rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 4.0, "high_freq_factor": 4.0})",
       "llama3"},
      {R"("rope_scaling": "big")", "rope"},
      {R"("partial_rotary_factor": 0.01)", "partial_rotary_factor"},
      {R"("tie_word_embeddings": "yes")", "tie_word_embeddings"},
      {R"("eos_token_id": [2, "x"])", "eos_token_id"},
  };
  for (const auto& [extra, key] : cases) {
    Scratch dir;
    write_text(dir.path / "config.json", config_with(extra));
    SCOPED_TRACE(extra);
    const std::string message = input_error([&] { load_causal_lm(dir.path); });
    expect_contains(message, "config.json");
    expect_contains(message, key);
  }
  // A missing required key and a sliding window that is not positive.
  Scratch dir;
  write_text(dir.path / "config.json", R"({"architectures": ["LlamaForCausalLM"], "vocab_size": 61, "hidden_size": 16,
      "num_hidden_layers": 2, "num_attention_heads": 4})");
  expect_contains(input_error([&] { load_model_config(dir.path); }), "key 'intermediate_size': missing");
  write_text(dir.path / "config.json",
             R"({"architectures": ["MistralForCausalLM"], "vocab_size": 61, "hidden_size": 16, "intermediate_size": 24,
      "num_hidden_layers": 2, "num_attention_heads": 4, "sliding_window": -5})");
  expect_contains(input_error([&] { load_model_config(dir.path); }), "sliding_window");
}

TEST(ModelBadInput, NoConfigAndNoFile) {
  Scratch dir;
  expect_contains(input_error([&] { load_causal_lm(dir.path / "nope"); }), "no such file");
  expect_contains(input_error([&] { load_causal_lm(dir.path); }), "no config.json");
  write_text(dir.path / "config.json", "[1, 2]");
  expect_contains(input_error([&] { load_causal_lm(dir.path); }), "expected a JSON object");
}

// GGUF metadata goes through the same checks: wrong architecture, absurd sizes, a missing key.
TEST(ModelBadInput, GgufMetadataErrors) {
  Scratch dir;
  auto gguf = [&](const std::function<void(formats::GgufWriter&)>& edit) {
    formats::GgufWriter w;
    w.set_string("general.architecture", "llama");
    w.set_u32("llama.embedding_length", 16);
    w.set_u32("llama.block_count", 1);
    w.set_u32("llama.feed_forward_length", 24);
    w.set_u32("llama.attention.head_count", 4);
    w.set_f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
    std::vector<std::byte> embed(61 * 16 * 4);
    w.add_tensor("token_embd.weight", formats::GgufType::F32, {16, 61}, embed);
    edit(w);
    const fs::path file = dir.path / "model.gguf";
    w.write(file);
    return file;
  };
  fs::path file = gguf([](formats::GgufWriter& w) { w.set_string("general.architecture", "gpt2"); });
  const std::string arch = input_error([&] { load_causal_lm(file); });
  expect_contains(arch, "model.gguf");
  expect_contains(arch, "'gpt2'");
  for (const ArchSpec* spec : all_architectures()) expect_contains(arch, spec->name);

  file = gguf([](formats::GgufWriter& w) { w.set_u32("llama.embedding_length", 0); });
  expect_contains(input_error([&] { load_causal_lm(file); }), "hidden_size");
  file = gguf([](formats::GgufWriter& w) { w.set_u32("llama.block_count", 4000000000u); });
  expect_contains(input_error([&] { load_causal_lm(file); }), "num_hidden_layers");
  file = gguf([](formats::GgufWriter& w) { w.set_u32("llama.attention.head_count", 5); });
  expect_contains(input_error([&] { load_causal_lm(file); }), "num_attention_heads");
  file = gguf([](formats::GgufWriter& w) { w.remove("llama.attention.layer_norm_rms_epsilon"); });
  expect_contains(input_error([&] { load_causal_lm(file); }), "llama.attention.layer_norm_rms_epsilon");
  // Consistent metadata, but the file holds only the embedding: the first missing tensor is named.
  file = gguf([](formats::GgufWriter&) {});
  expect_contains(input_error([&] { load_causal_lm(file); }), "missing tensor 'model.layers.0.input_layernorm.weight'");
}

}  // namespace
}  // namespace tailor::models
