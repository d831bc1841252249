#include "cli/model_session.h"

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <iostream>

#include "core/error.h"
#include "export/merge.h"
#include "models/model_loader.h"

namespace tailor::cli {
namespace {

at::ScalarType parse_dtype(const std::string& name) {
  if (name == "float32" || name == "fp32") return at::kFloat;
  if (name == "bfloat16" || name == "bf16") return at::kBFloat16;
  throw InputError("--dtype: '" + name + "' is not one of float32, bfloat16");
}

at::Device parse_device(const std::string& name) {
  if (name == "cpu") return at::kCPU;
  if (name.rfind("cuda", 0) == 0) {
    if (!at::hasCUDA()) throw InputError("--device " + name + ": no CUDA device available");
    return at::Device(name);
  }
  throw InputError("--device: '" + name + "' is not cpu or cuda[:N]");
}

// Length of the longest prefix of `text` that does not end inside a UTF-8 character or with the
// replacement character a decoder emits for bytes it could not finish yet.
size_t complete_prefix(const std::string& text) {
  static const std::string replacement = "\xEF\xBF\xBD";
  size_t n = text.size();
  if (n >= 3 && text.compare(n - 3, 3, replacement) == 0) return n - 3;
  size_t i = n;
  while (i > 0 && (static_cast<unsigned char>(text[i - 1]) & 0xC0) == 0x80) --i;
  if (i == 0) return n;
  unsigned char lead = static_cast<unsigned char>(text[i - 1]);
  size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
  return n - (i - 1) >= need ? n : i - 1;
}

// The base with the adapter folded into its weights (in float32, then cast): inference then costs
// exactly what the base costs. The merge checks the adapter fits the base and names both if not.
models::CausalLM load_with_adapter(const std::string& base, const std::string& adapter,
                                   const models::LoadOptions& options) {
  exporting::MergedModel merged = [&] {
    try {
      return exporting::merge_adapter(base, std::filesystem::path(adapter));
    } catch (const InputError&) {
      rethrow_with_context("--adapter " + adapter + " on --model " + base);
    }
  }();
  for (const std::string& note : merged.notes) std::cerr << "tailor: " << note << "\n";
  models::CausalLM model(merged.config, at::TensorOptions().dtype(options.dtype).device(options.device));
  models::load_weights(*model, models::MapTensorSource(std::move(merged.tensors), base + " + " + adapter));
  model->eval();
  return model;
}

}  // namespace

void ModelFlags::add_to(CLI::App& verb) {
  verb.add_option("--model", model, "HF model folder or .gguf file")->required();
  verb.add_option("--adapter", adapter, "a `tailor run` folder or a PEFT adapter folder to apply to the model");
  verb.add_option("--dtype", dtype, "float32 or bfloat16")->capture_default_str();
  verb.add_option("--device", device, "cpu or cuda[:N]")->capture_default_str();
  verb.add_option("--threads", threads, "CPU threads (default: all cores)");
}

void add_sampling_flags(CLI::App& verb, models::SamplingOptions& s) {
  verb.add_option("--max-new-tokens", s.max_new_tokens, "tokens to generate at most")->capture_default_str();
  verb.add_option("--temperature", s.temperature, "0 = greedy")->capture_default_str();
  verb.add_option("--top-k", s.top_k, "keep the k most likely tokens (0 = off)")->capture_default_str();
  verb.add_option("--top-p", s.top_p, "nucleus sampling mass (1 = off)")->capture_default_str();
  verb.add_option("--repetition-penalty", s.repetition_penalty, "> 1 discourages repeats")->capture_default_str();
  verb.add_option("--seed", s.seed, "sampling seed")->capture_default_str();
}

ModelSession ModelSession::open(const ModelFlags& flags) {
  ModelSession s;
  if (flags.threads < 0) throw InputError("--threads must be positive");
  if (flags.threads > 0) at::set_num_threads(flags.threads);
  auto start = std::chrono::steady_clock::now();
  models::LoadOptions options;
  options.dtype = parse_dtype(flags.dtype);
  options.device = parse_device(flags.device);
  s.model = flags.adapter.empty() ? models::load_causal_lm(flags.model, options)
                                  : load_with_adapter(flags.model, flags.adapter, options);
  s.tokenizer = data::Tokenizer::load(flags.model);
  s.load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return s;
}

std::vector<int64_t> ModelSession::stop_ids() const {
  std::vector<int64_t> ids = model->config().eos_token_ids;
  const auto& special = tokenizer->special_tokens();
  for (int64_t id : special.eos_ids) ids.push_back(id);
  if (special.eos) ids.push_back(*special.eos);
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

std::vector<int64_t> ModelSession::encode_prompt(const std::string& text) const {
  std::vector<int64_t> ids;
  const auto& special = tokenizer->special_tokens();
  if (special.add_bos && special.bos) ids.push_back(*special.bos);
  for (data::TokenId id : tokenizer->encode(text)) ids.push_back(id);
  return ids;
}

std::string TextStream::push(int64_t id) {
  ids_.push_back(data::TokenId(id));
  std::string text = tokenizer_.decode(ids_, /*skip_special=*/true);
  size_t ready = complete_prefix(text);
  if (ready <= printed_) return {};
  std::string out = text.substr(printed_, ready - printed_);
  printed_ = ready;
  return out;
}

std::string TextStream::finish() {
  std::string text = tokenizer_.decode(ids_, /*skip_special=*/true);
  std::string out = text.size() > printed_ ? text.substr(printed_) : std::string();
  printed_ = text.size();
  return out;
}

}  // namespace tailor::cli
