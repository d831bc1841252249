#include "export/gguf_model.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <numbers>
#include <regex>
#include <unordered_map>

#include "core/error.h"
#include "data/tokenizer.h"
#include "formats/gguf.h"
#include "formats/gguf_quantize.h"
#include "models/tensor_inventory.h"

namespace tailor::exporting {
namespace fs = std::filesystem;
using formats::GgufType;
using formats::GgufWriter;

std::string gguf_architecture(const models::ModelConfig& config) {
  return config.arch->gguf_architectures.empty() ? "llama" : config.arch->gguf_architectures.front();
}

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// HF rows [heads, 2, hd/2] -> llama.cpp rows [heads, hd/2, 2] (formats.md §4.9).
at::Tensor permute_rows(const at::Tensor& t, int64_t heads) {
  auto shape = t.sizes().vec();
  return t.reshape({heads, 2, shape[0] / heads / 2, -1}).transpose(1, 2).reshape(shape);
}

// Per-frequency divisors llama.cpp reads from rope_freqs.weight for llama3 rope (formats.md §4.5).
std::vector<float> llama3_divisors(const models::RopeParams& rope, int64_t dim) {
  if (!rope.frequency_divisors.empty()) return rope.frequency_divisors;
  std::vector<float> out;
  const double orig = double(rope.original_max_position_embeddings);
  const double low_wavelen = orig / rope.low_freq_factor, high_wavelen = orig / rope.high_freq_factor;
  for (int64_t i = 0; i < dim / 2; ++i) {
    const double freq = 1.0 / std::pow(rope.theta, double(2 * i) / double(dim));
    const double wavelen = 2 * std::numbers::pi / freq;
    if (wavelen < high_wavelen) {
      out.push_back(1.0f);
    } else if (wavelen > low_wavelen) {
      out.push_back(float(rope.factor));
    } else {
      const double smooth = (orig / wavelen - rope.low_freq_factor) / (rope.high_freq_factor - rope.low_freq_factor);
      out.push_back(float(1.0 / ((1 - smooth) / rope.factor + smooth)));
    }
  }
  return out;
}

void add_architecture_metadata(GgufWriter& w, const models::ModelConfig& c, const std::string& arch) {
  const std::string p = arch + ".";
  w.set_u32(p + "context_length", uint32_t(c.max_position_embeddings));
  w.set_u32(p + "embedding_length", uint32_t(c.hidden_size));
  w.set_u32(p + "block_count", uint32_t(c.num_layers));
  w.set_u32(p + "feed_forward_length", uint32_t(c.intermediate_size));
  w.set_u32(p + "attention.head_count", uint32_t(c.num_heads));
  w.set_u32(p + "attention.head_count_kv", uint32_t(c.num_kv_heads));
  w.set_f32(p + "attention.layer_norm_rms_epsilon", float(c.rms_norm_eps));
  w.set_u32(p + "attention.key_length", uint32_t(c.head_dim));
  w.set_u32(p + "attention.value_length", uint32_t(c.head_dim));
  w.set_f32(p + "rope.freq_base", float(c.rope.theta));
  w.set_u32(p + "rope.dimension_count", uint32_t(c.rotary_dim()));
  w.set_u32(p + "vocab_size", uint32_t(c.vocab_size));
  switch (c.rope.type) {
    case models::RopeType::Linear:
      w.set_string(p + "rope.scaling.type", "linear");
      w.set_f32(p + "rope.scaling.factor", float(c.rope.factor));
      break;
    case models::RopeType::Yarn:
      w.set_string(p + "rope.scaling.type", "yarn");
      w.set_f32(p + "rope.scaling.factor", float(c.rope.factor));
      w.set_u32(p + "rope.scaling.original_context_length", uint32_t(c.rope.original_max_position_embeddings));
      break;
    case models::RopeType::LongRope:
      throw InputError("GGUF export: longrope scaling (rope_factors tensors) is not supported yet");
    default: break;
  }
  if (c.sliding_window) w.set_u32(p + "attention.sliding_window", uint32_t(*c.sliding_window));
  if (c.attn_logit_softcapping) w.set_f32(p + "attn_logit_softcapping", float(*c.attn_logit_softcapping));
  if (c.final_logit_softcapping) w.set_f32(p + "final_logit_softcapping", float(*c.final_logit_softcapping));
  if (c.arch->separate_sliding_rope) w.set_f32(p + "rope.freq_base_swa", float(c.sliding_rope.theta));
}

// ---- tokenizer ------------------------------------------------------------------------------------

nlohmann::json read_json(const fs::path& file) {
  std::ifstream in(file);
  if (!in) throw InputError(file.string() + ": cannot open");
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(file.string() + ": " + e.what());
  }
}

// tokenizer.ggml.pre from the tokenizer.json pre-tokenizer (what convert_hf_to_gguf's hash picks for these).
std::string detect_pre(const nlohmann::json& pre) {
  const std::string text = pre.dump();
  if (text.find("\"Digits\"") != std::string::npos) return "smollm";
  if (text.find("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|\\\\p{N}{1,3}") != std::string::npos)
    return "llama-bpe";
  if (text.find("\\\\p{N}| ?[^\\\\s\\\\p{L}\\\\p{N}]+") != std::string::npos) return "qwen2";
  if (text.find("ByteLevel") != std::string::npos) return "gpt-2";
  return "default";
}

// A merges entry ("a b" or ["a", "b"]) as the two pieces.
std::pair<std::string, std::string> merge_pair(const nlohmann::json& m) {
  if (!m.is_string()) return {m[0].get<std::string>(), m[1].get<std::string>()};
  const std::string text = m.get<std::string>();
  const size_t space = text.find(' ');
  return {text.substr(0, space), space == std::string::npos ? "" : text.substr(space + 1)};
}

// SentencePiece-style BPE with byte fallback (Llama 2, Mistral v0.1): llama.cpp's "llama" tokenizer
// merges the adjacent pair whose concatenation has the highest score, leftmost first; HF merges the
// lowest-ranked pair. A piece's score is minus the rank of the first merge that makes it, so both pick
// the same pair (the HF file lists a merge for every pair of pieces that forms a piece, ordered as
// SentencePiece's scores were). Pieces no merge makes (characters, bytes, specials) score 0.
void spm_tokens_from_hf(GgufWriter& w, const nlohmann::json& tj, int64_t vocab_size) {
  const auto& model = tj["model"];
  std::vector<std::string> tokens(static_cast<size_t>(vocab_size));
  std::vector<float> scores(static_cast<size_t>(vocab_size), 0.0f);
  std::vector<int32_t> types(static_cast<size_t>(vocab_size), 0);
  std::unordered_map<std::string, int64_t> ids;
  for (const auto& [text, id] : model["vocab"].items()) {
    const int64_t i = id.get<int64_t>();
    if (i < 0 || i >= vocab_size) continue;
    tokens[size_t(i)] = text;
    ids[text] = i;
    const bool byte = text.size() == 6 && text.rfind("<0x", 0) == 0 && text.back() == '>';
    types[size_t(i)] = byte ? 6 : 1;  // BYTE : NORMAL
  }
  std::vector<bool> scored(static_cast<size_t>(vocab_size), false);
  const auto& merges = model["merges"];
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    auto [a, b] = merge_pair(merges[rank]);
    auto it = ids.find(a + b);
    if (it != ids.end() && !scored[size_t(it->second)]) {
      scores[size_t(it->second)] = -float(rank);
      scored[size_t(it->second)] = true;
    }
  }
  if (model.contains("unk_token") && model["unk_token"].is_string())
    if (auto it = ids.find(model["unk_token"].get<std::string>()); it != ids.end()) types[size_t(it->second)] = 2;  // UNKNOWN
  for (const auto& added : tj.value("added_tokens", nlohmann::json::array())) {
    const int64_t i = added["id"].get<int64_t>();
    if (i < 0 || i >= vocab_size) continue;
    tokens[size_t(i)] = added["content"].get<std::string>();
    if (types[size_t(i)] != 2) types[size_t(i)] = added.value("special", false) ? 3 : 4;  // CONTROL : USER_DEFINED
  }
  for (int64_t i = 0; i < vocab_size; ++i)
    if (types[size_t(i)] == 0) {
      tokens[size_t(i)] = "[PAD" + std::to_string(i) + "]";
      types[size_t(i)] = 5;  // UNUSED
    }
  // The "▁" prefix comes from a Prepend normalizer (legacy) or a Metaspace pre-tokenizer that prepends.
  const std::string normalizer = tj.value("normalizer", nlohmann::json()).dump();
  const auto pre = tj.value("pre_tokenizer", nlohmann::json());
  const bool prepends = normalizer.find("\"Prepend\"") != std::string::npos ||
                        (pre.is_object() && pre.value("type", "") == "Metaspace" && pre.value("prepend_scheme", "always") != "never");
  w.set_string("tokenizer.ggml.model", "llama");
  w.set_string("tokenizer.ggml.pre", "default");
  w.set_strings("tokenizer.ggml.tokens", std::move(tokens));
  w.set_f32s("tokenizer.ggml.scores", std::move(scores));
  w.set_i32s("tokenizer.ggml.token_type", std::move(types));
  w.set_bool("tokenizer.ggml.add_space_prefix", prepends);
}

// Byte-level BPE (GPT-2 style: Llama 3, Qwen, SmolLM): tokens, types and merges as convert_hf_to_gguf writes them.
void gpt2_tokens_from_hf(GgufWriter& w, const nlohmann::json& tj, int64_t vocab_size) {
  const auto& model = tj["model"];
  std::vector<std::string> tokens(static_cast<size_t>(vocab_size));
  std::vector<int32_t> types(static_cast<size_t>(vocab_size), 0);
  for (const auto& [text, id] : model["vocab"].items()) {
    int64_t i = id.get<int64_t>();
    if (i >= 0 && i < vocab_size) {
      tokens[size_t(i)] = text;
      types[size_t(i)] = 1;  // NORMAL
    }
  }
  for (const auto& added : tj.value("added_tokens", nlohmann::json::array())) {
    int64_t i = added["id"].get<int64_t>();
    if (i < 0 || i >= vocab_size) continue;
    tokens[size_t(i)] = added["content"].get<std::string>();
    types[size_t(i)] = added.value("special", false) ? 3 : 4;  // CONTROL : USER_DEFINED
  }
  for (int64_t i = 0; i < vocab_size; ++i)
    if (types[size_t(i)] == 0) {
      tokens[size_t(i)] = "[PAD" + std::to_string(i) + "]";
      types[size_t(i)] = 5;  // UNUSED
    }
  std::vector<std::string> merges;
  for (const auto& m : model["merges"]) {
    if (m.is_string()) {
      merges.push_back(m.get<std::string>());
    } else {
      auto fix = [](std::string s) { return std::regex_replace(s, std::regex(" "), "\xC4\xA0"); };
      merges.push_back(fix(m[0].get<std::string>()) + " " + fix(m[1].get<std::string>()));
    }
  }
  w.set_string("tokenizer.ggml.model", "gpt2");
  w.set_string("tokenizer.ggml.pre", detect_pre(tj["pre_tokenizer"]));
  w.set_strings("tokenizer.ggml.tokens", std::move(tokens));
  w.set_i32s("tokenizer.ggml.token_type", std::move(types));
  w.set_strings("tokenizer.ggml.merges", std::move(merges));
}

// Special ids, add-BOS/EOS flags and the chat template, read through tailor's tokenizer loader.
void special_tokens_from_hf(GgufWriter& w, const fs::path& folder) {
  auto tok = data::Tokenizer::load(folder);
  const auto& special = tok->special_tokens();
  if (special.bos) w.set_u32("tokenizer.ggml.bos_token_id", uint32_t(*special.bos));
  if (special.eos) w.set_u32("tokenizer.ggml.eos_token_id", uint32_t(*special.eos));
  if (special.unk) w.set_u32("tokenizer.ggml.unknown_token_id", uint32_t(*special.unk));
  if (special.pad) w.set_u32("tokenizer.ggml.padding_token_id", uint32_t(*special.pad));
  for (auto id : special.eos_ids)  // the end-of-turn token: a stop id other than eos that a template emits
    if (!special.eos || id != *special.eos) {
      w.set_u32("tokenizer.ggml.eot_token_id", uint32_t(id));
      break;
    }
  w.set_bool("tokenizer.ggml.add_bos_token", special.add_bos);
  w.set_bool("tokenizer.ggml.add_eos_token", special.add_eos);
  if (!tok->chat_template().empty()) w.set_string("tokenizer.chat_template", tok->chat_template());
}

void tokenizer_from_hf(GgufWriter& w, const fs::path& folder, int64_t vocab_size) {
  const fs::path file = folder / "tokenizer.json";
  if (!fs::exists(file))
    throw InputError(folder.string() + ": GGUF export needs tokenizer.json (tokenizer.model alone is not supported)");
  nlohmann::json tj = read_json(file);
  const auto& model = tj["model"];
  if (model.value("type", "") != "BPE")
    throw InputError(file.string() + ": GGUF export supports BPE tokenizers (byte-level or with byte fallback); this one is " +
                     model.value("type", std::string("?")));
  if (model.value("byte_fallback", false)) {
    spm_tokens_from_hf(w, tj, vocab_size);
  } else {
    gpt2_tokens_from_hf(w, tj, vocab_size);
  }
  special_tokens_from_hf(w, folder);
}

}  // namespace

at::Tensor to_gguf_layout(const models::ModelConfig& config, const std::string& hf_name, const at::Tensor& tensor) {
  at::Tensor t = tensor;
  if (config.arch->gguf_rope == models::GgufRope::LlamaPermuted) {
    const auto* q = config.arch->find_linear(models::LinearRole::Query);
    const auto* k = config.arch->find_linear(models::LinearRole::Key);
    if (q && (ends_with(hf_name, "." + q->module + ".weight") || ends_with(hf_name, "." + q->module + ".bias")))
      t = permute_rows(t, config.num_heads);
    else if (k && (ends_with(hf_name, "." + k->module + ".weight") || ends_with(hf_name, "." + k->module + ".bias")))
      t = permute_rows(t, config.num_kv_heads);
  }
  if (config.arch->gguf_norms_store_one_plus && config.arch->norm_kind == models::NormKind::OnePlusWeight &&
      (ends_with(hf_name, "norm.weight")))
    t = t + 1.0;
  return t.contiguous();
}

void add_tokenizer_metadata(GgufWriter& w, const fs::path& base, int64_t vocab_size) {
  if (fs::is_regular_file(base)) {
    formats::GgufFile file(base);
    for (const auto& kv : file.metadata())
      if (kv.key.rfind("tokenizer.", 0) == 0) w.set(kv.key, kv.value);
    return;
  }
  tokenizer_from_hf(w, base, vocab_size);
}

void write_gguf_model(const MergedModel& model, const fs::path& file, const GgufModelOptions& options) {
  const auto& config = model.config;
  const std::string arch = gguf_architecture(config);
  GgufWriter w;
  w.set_string("general.architecture", arch);
  w.set_string("general.type", "model");
  w.set_string("general.name", options.name.empty() ? model.base.stem().string() : options.name);
  w.set_u32("general.file_type", llama_file_type_id(options.file_type));
  if (is_quantized(options.file_type)) w.set_u32("general.quantization_version", 2);
  add_architecture_metadata(w, config, arch);
  add_tokenizer_metadata(w, model.base, config.vocab_size);

  struct Source {
    std::string hf_name;
    PlannedTensor planned;
  };
  std::vector<Source> sources;
  std::vector<PlannedTensor> planned;
  for (const auto& info : models::model_tensors(config)) {
    std::vector<int64_t> ne(info.shape.rbegin(), info.shape.rend());
    sources.push_back({info.hf_name, {info.gguf_name, ne}});
    planned.push_back({info.gguf_name, ne});
  }
  std::vector<float> divisors;
  if (config.rope.type == models::RopeType::Llama3) {
    divisors = llama3_divisors(config.rope, config.rotary_dim());
    sources.push_back({"", {"rope_freqs.weight", {int64_t(divisors.size())}}});
    planned.push_back(sources.back().planned);
  }
  const auto types = plan_tensor_types(planned, options.file_type);
  for (size_t i = 0; i < sources.size(); ++i) {
    const auto& s = sources[i];
    at::Tensor rows = s.hf_name.empty() ? at::from_blob(divisors.data(), {int64_t(divisors.size())}, at::kFloat)
                                        : to_gguf_layout(config, s.hf_name, model.tensors.at(s.hf_name));
    std::span<const float> values(rows.data_ptr<float>(), size_t(rows.numel()));
    w.add_tensor(s.planned.name, types[i], s.planned.ne, formats::quantize(types[i], values, s.planned.ne[0], options.threads));
  }
  w.write(file);
}

}  // namespace tailor::exporting
