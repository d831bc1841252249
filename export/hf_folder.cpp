#include "export/hf_folder.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <fstream>

#include "core/atomic_file.h"
#include "core/error.h"
#include "data/tokenizer.h"
#include "formats/gguf.h"
#include "formats/safetensors.h"
#include "models/tensor_inventory.h"

namespace tailor::exporting {
namespace fs = std::filesystem;
using nlohmann::ordered_json;

namespace {

std::string dtype_string(at::ScalarType t) {
  return t == at::kBFloat16 ? "bfloat16" : t == at::kHalf ? "float16" : "float32";
}

formats::DType safetensors_dtype(at::ScalarType t) {
  return t == at::kBFloat16 ? formats::DType::BF16 : t == at::kHalf ? formats::DType::F16 : formats::DType::F32;
}

void write_json(const fs::path& file, const ordered_json& j) { write_file_atomic(file, j.dump(2) + "\n"); }

ordered_json eos_value(const std::vector<int64_t>& ids) {
  if (ids.size() == 1) return ids.front();
  return ids;
}

ordered_json rope_scaling(const models::RopeParams& r) {
  switch (r.type) {
    case models::RopeType::Linear: return {{"rope_type", "linear"}, {"factor", r.factor}};
    case models::RopeType::Llama3:
      return {{"rope_type", "llama3"}, {"factor", r.factor}, {"low_freq_factor", r.low_freq_factor},
              {"high_freq_factor", r.high_freq_factor}, {"original_max_position_embeddings", r.original_max_position_embeddings}};
    case models::RopeType::Yarn:
      return {{"rope_type", "yarn"}, {"factor", r.factor}, {"original_max_position_embeddings", r.original_max_position_embeddings}};
    default: return nullptr;
  }
}

// config.json from the parsed configuration (a GGUF base has none to copy). Legacy rope keys, which
// every consumer reads.
ordered_json synthesize_config(const models::ModelConfig& c, at::ScalarType dtype) {
  ordered_json j;
  j["architectures"] = {c.arch->hf_architectures.front()};
  j["model_type"] = c.arch->model_types.front();
  j["vocab_size"] = c.vocab_size;
  j["hidden_size"] = c.hidden_size;
  j["intermediate_size"] = c.intermediate_size;
  j["num_hidden_layers"] = c.num_layers;
  j["num_attention_heads"] = c.num_heads;
  j["num_key_value_heads"] = c.num_kv_heads;
  j["head_dim"] = c.head_dim;
  j["max_position_embeddings"] = c.max_position_embeddings;
  j["rms_norm_eps"] = c.rms_norm_eps;
  j["rope_theta"] = c.rope.theta;
  j["rope_scaling"] = rope_scaling(c.rope);
  j["tie_word_embeddings"] = c.tie_word_embeddings;
  j["attention_bias"] = c.attention_bias;
  j["mlp_bias"] = c.mlp_bias;
  j["hidden_act"] = c.arch->activation == models::Activation::Silu ? "silu" : "gelu_pytorch_tanh";
  if (c.bos_token_id) j["bos_token_id"] = *c.bos_token_id;
  if (!c.eos_token_ids.empty()) j["eos_token_id"] = eos_value(c.eos_token_ids);
  if (c.pad_token_id) j["pad_token_id"] = *c.pad_token_id;
  if (c.sliding_window) j["sliding_window"] = *c.sliding_window;
  j["torch_dtype"] = dtype_string(dtype);
  return j;
}

// tokenizer.json for a gpt2-style GGUF vocabulary (byte-level BPE), pre-tokenizer by tokenizer.ggml.pre.
ordered_json pre_tokenizer_for(const std::string& pre) {
  ordered_json byte_level = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}};
  auto split = [&](const std::string& regex) {
    ordered_json bl = byte_level;
    bl["use_regex"] = false;
    return ordered_json{{"type", "Sequence"},
                        {"pretokenizers",
                         {{{"type", "Split"}, {"pattern", {{"Regex", regex}}}, {"behavior", "Isolated"}, {"invert", false}}, bl}}};
  };
  if (pre == "smollm")
    return {{"type", "Sequence"},
            {"pretokenizers", {{{"type", "Digits"}, {"individual_digits", true}}, byte_level}}};
  if (pre == "llama-bpe" || pre == "llama3" || pre == "llama-v3")
    return split(R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)");
  if (pre == "qwen2")
    return split(R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)");
  if (pre == "gpt-2" || pre == "default") return byte_level;
  throw InputError("HF export: tokenizer.ggml.pre '" + pre + "' has no tokenizer.json equivalent in tailor yet");
}

void synthesize_tokenizer(const fs::path& gguf_path, const fs::path& folder) {
  formats::GgufFile file(gguf_path);
  const std::string model = file.get_string("tokenizer.ggml.model");
  if (model != "gpt2")
    throw InputError(gguf_path.string() + ": HF export synthesizes tokenizer.json for gpt2 (byte-level BPE) vocabularies; this one is '" + model + "'");
  const auto& tokens = file.get_strings("tokenizer.ggml.tokens");
  const auto types = file.get_ints("tokenizer.ggml.token_type");
  const std::string pre = file.find("tokenizer.ggml.pre") ? file.get_string("tokenizer.ggml.pre") : "default";
  auto tokenizer = data::Tokenizer::load(gguf_path);
  const auto& special = tokenizer->special_tokens();

  ordered_json vocab = ordered_json::object();
  ordered_json added = ordered_json::array();
  ordered_json added_decoder = ordered_json::object();
  for (size_t id = 0; id < tokens.size(); ++id) {
    vocab[tokens[id]] = id;
    const int64_t type = id < types.size() ? types[id] : 1;
    if (type == 3 || type == 4) {  // CONTROL, USER_DEFINED
      ordered_json entry = {{"id", id}, {"content", tokens[id]}, {"single_word", false}, {"lstrip", false},
                            {"rstrip", false}, {"normalized", type == 4}, {"special", type == 3}};
      added.push_back(entry);
      entry.erase("id");
      added_decoder[std::to_string(id)] = entry;
    }
  }
  ordered_json merges = ordered_json::array();
  if (file.find("tokenizer.ggml.merges"))
    for (const auto& m : file.get_strings("tokenizer.ggml.merges")) {
      const size_t space = m.find(' ', 1);
      merges.push_back({m.substr(0, space), m.substr(space + 1)});
    }
  ordered_json post = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", false}, {"use_regex", true}};
  if (special.add_bos && special.bos) {
    const std::string bos = tokens.at(size_t(*special.bos));
    post = {{"type", "TemplateProcessing"},
            {"single", {{{"SpecialToken", {{"id", bos}, {"type_id", 0}}}}, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
            {"pair", {{{"SpecialToken", {{"id", bos}, {"type_id", 0}}}}, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
                      {{"SpecialToken", {{"id", bos}, {"type_id", 1}}}}, {{"Sequence", {{"id", "B"}, {"type_id", 1}}}}}},
            {"special_tokens", {{bos, {{"id", bos}, {"ids", {*special.bos}}, {"tokens", {bos}}}}}}};
  }
  ordered_json tj = {
      {"version", "1.0"}, {"truncation", nullptr}, {"padding", nullptr}, {"added_tokens", added}, {"normalizer", nullptr},
      {"pre_tokenizer", pre_tokenizer_for(pre)}, {"post_processor", post},
      {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}}},
      {"model",
       {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"continuing_subword_prefix", nullptr},
        {"end_of_word_suffix", nullptr}, {"fuse_unk", false}, {"byte_fallback", false},
        {"ignore_merges", pre == "llama-bpe" || pre == "llama3" || pre == "llama-v3"}, {"vocab", vocab}, {"merges", merges}}}};
  write_json(folder / "tokenizer.json", tj);

  auto text = [&](std::optional<data::TokenId> id) -> ordered_json {
    if (!id) return nullptr;
    return tokens.at(size_t(*id));
  };
  ordered_json tc = {{"tokenizer_class", "PreTrainedTokenizerFast"},
                     {"bos_token", text(special.bos)},
                     {"eos_token", text(special.eos)},
                     {"unk_token", text(special.unk)},
                     {"pad_token", text(special.pad)},
                     {"add_bos_token", special.add_bos},
                     {"add_eos_token", special.add_eos},
                     {"clean_up_tokenization_spaces", false},
                     {"model_max_length", 1000000000000000019884624838656.0},
                     {"added_tokens_decoder", added_decoder}};
  if (!tokenizer->chat_template().empty()) tc["chat_template"] = tokenizer->chat_template();
  write_json(folder / "tokenizer_config.json", tc);
}

void copy_tokenizer_files(const fs::path& base, const fs::path& folder) {
  bool any = false;
  for (const char* name : {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja",
                           "tokenizer.model", "vocab.json", "merges.txt", "added_tokens.json"}) {
    if (fs::exists(base / name)) {
      fs::copy_file(base / name, folder / name, fs::copy_options::overwrite_existing);
      any = true;
    }
  }
  if (!any) throw InputError(base.string() + ": no tokenizer files to copy into the exported folder");
}

}  // namespace

void write_hf_folder(const MergedModel& model, const fs::path& folder, const HfFolderOptions& options) {
  fs::create_directories(folder);
  std::vector<at::Tensor> keep;
  std::vector<formats::TensorView> views;
  for (const auto& info : models::model_tensors(model.config)) {
    at::Tensor t = model.tensors.at(info.hf_name).to(options.dtype).contiguous();
    keep.push_back(t);
    views.push_back({info.hf_name, safetensors_dtype(options.dtype), t.sizes().vec(),
                     static_cast<const std::byte*>(t.data_ptr()), size_t(t.nbytes())});
  }
  formats::ShardedWriteOptions shard;
  shard.max_shard_bytes = options.max_shard_bytes;
  formats::write_safetensors_checkpoint(folder, views, shard);

  ordered_json config;
  if (!model.base_is_gguf && fs::exists(model.base / "config.json")) {
    std::ifstream in(model.base / "config.json");
    config = ordered_json::parse(in);
    config["torch_dtype"] = dtype_string(options.dtype);
    if (config.contains("dtype")) config["dtype"] = dtype_string(options.dtype);
  } else {
    config = synthesize_config(model.config, options.dtype);
  }
  write_json(folder / "config.json", config);

  // Every stop id: the config's and the tokenizer's end-of-turn tokens (<|im_end|>, <|eot_id|>, ...).
  std::vector<int64_t> stops = model.config.eos_token_ids;
  const auto tokenizer = data::Tokenizer::load(model.base);
  for (auto id : tokenizer->special_tokens().eos_ids)
    if (std::find(stops.begin(), stops.end(), id) == stops.end()) stops.push_back(id);
  ordered_json generation;
  if (model.config.bos_token_id) generation["bos_token_id"] = *model.config.bos_token_id;
  if (!stops.empty()) generation["eos_token_id"] = eos_value(stops);
  if (model.config.pad_token_id) generation["pad_token_id"] = *model.config.pad_token_id;
  write_json(folder / "generation_config.json", generation);

  if (model.base_is_gguf) synthesize_tokenizer(model.base, folder);
  else copy_tokenizer_files(model.base, folder);
}

}  // namespace tailor::exporting
