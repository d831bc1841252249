// What the model verbs (eval, generate, chat) share: the --model/--adapter/--dtype/--device flags,
// loading a model (with a fine-tuned adapter merged in) and its tokenizer, the stop ids, and printing
// generated text as it streams.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "data/tokenizer.h"
#include "models/decoder.h"
#include "models/generator.h"

namespace CLI {
class App;
}

namespace tailor::cli {

struct ModelFlags {
  std::string model;
  std::string adapter;  // a `tailor run` folder or a PEFT adapter folder; empty = the base alone
  std::string dtype = "float32";
  std::string device = "cpu";
  int threads = 0;  // CPU threads for LibTorch; 0 = its default (all cores)
  void add_to(CLI::App& verb);
};

// --max-new-tokens, --temperature, --top-k, --top-p, --repetition-penalty, --seed.
void add_sampling_flags(CLI::App& verb, models::SamplingOptions& sampling);

struct ModelSession {
  models::CausalLM model{nullptr};
  std::unique_ptr<data::Tokenizer> tokenizer;
  double load_seconds = 0;

  static ModelSession open(const ModelFlags& flags);
  std::vector<int64_t> stop_ids() const;  // the model's EOS ids and the tokenizer's, deduplicated
  std::vector<int64_t> encode_prompt(const std::string& text) const;  // with BOS when the tokenizer wants it
};

// Decodes a growing id sequence and returns only the text not returned before, holding back a
// trailing incomplete UTF-8 character until the next token completes it.
class TextStream {
 public:
  explicit TextStream(const data::Tokenizer& tokenizer) : tokenizer_(tokenizer) {}
  std::string push(int64_t id);
  std::string finish();

 private:
  const data::Tokenizer& tokenizer_;
  std::vector<data::TokenId> ids_;
  size_t printed_ = 0;
};

}  // namespace tailor::cli
