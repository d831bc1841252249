// The stages of an HF tokenizers pipeline around the model: normalizers (NFC, Prepend, Replace, ...),
// pre-tokenizers (Split, ByteLevel, Digits, Metaspace, Sequence) and decoders (ByteLevel, ByteFallback,
// Fuse, Strip, Replace, Metaspace), each built from its tokenizer.json object and behaving like the
// Rust implementation.
#pragma once

#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace tailor::data {

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual void apply(std::string& text) const = 0;
};

// The pieces of one text segment while pre-tokenizers refine them. Views point into the segment or
// into `owned` (pieces a pre-tokenizer rewrote).
struct Pieces {
  std::vector<std::string_view> parts;
  std::deque<std::string> owned;
  bool at_text_start = true;  // the first piece starts the whole input (Metaspace prepend_scheme "first")
  std::string_view own(std::string s) { return owned.emplace_back(std::move(s)); }
};

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  virtual void apply(Pieces& pieces) const = 0;
  virtual bool byte_level() const { return false; }  // the model works on bytes (ByteLevel)
};

class Decoder {
 public:
  virtual ~Decoder() = default;
  virtual void apply(std::vector<std::string>& tokens) const = 0;
};

// Builders from tokenizer.json objects (null -> empty list). Unsupported types throw InputError naming
// the component and type.
std::vector<std::unique_ptr<Normalizer>> make_normalizers(const nlohmann::json& spec);
std::vector<std::unique_ptr<PreTokenizer>> make_pre_tokenizers(const nlohmann::json& spec);
std::vector<std::unique_ptr<Decoder>> make_decoders(const nlohmann::json& spec);

// Pre-tokenizers by llama.cpp's tokenizer.ggml.pre name (GGUF vocabularies).
std::vector<std::unique_ptr<PreTokenizer>> pre_tokenizers_for_gguf(const std::string& pre);

// Invalid UTF-8 sequences replaced by U+FFFD (maximal subparts, like Rust's from_utf8_lossy).
std::string utf8_lossy(std::string_view bytes);

}  // namespace tailor::data
