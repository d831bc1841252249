// A byte tokenizer (id = byte + 3; pad 0, bos 1, eos 2) and a ChatML-shaped encoder over it, so the
// pipeline's tests need no real vocabulary. Expected values in the tests follow from these rules.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>

#include "core/error.h"
#include "data/pipeline/chat_encoder.h"
#include "data/tokenizer.h"

namespace tailor::data::testing {

constexpr TokenId kPad = 0, kBos = 1, kEos = 2, kImStart = 300, kImEnd = 301;

class ByteTokenizer : public Tokenizer {
 public:
  explicit ByteTokenizer(bool add_bos = true) {
    special_.pad = kPad;
    special_.bos = kBos;
    special_.eos = kEos;
    special_.eos_ids = {kEos};
    special_.add_bos = add_bos;
  }
  std::vector<TokenId> encode(std::string_view text) const override {
    std::vector<TokenId> ids;
    for (unsigned char c : text) ids.push_back(c + 3);
    return ids;
  }
  std::vector<TokenId> encode_with_special(std::string_view text) const override { return encode(text); }
  std::string decode(std::span<const TokenId> ids, bool skip_special) const override {
    std::string s;
    for (TokenId id : ids) {
      if (id >= 3 && id < 259) s.push_back(static_cast<char>(id - 3));
      else if (!skip_special) s += id == kImStart ? "<|im_start|>" : id == kImEnd ? "<|im_end|>" : id == kBos ? "<s>" : "</s>";
    }
    return s;
  }
  size_t vocab_size() const override { return 302; }
  std::optional<TokenId> token_to_id(std::string_view) const override { return std::nullopt; }
  std::string id_to_token(TokenId id) const override { return decode(std::span(&id, 1), false); }
  bool is_special(TokenId id) const override { return id < 3 || id >= 300; }
  const SpecialTokens& special_tokens() const override { return special_; }
  const std::string& chat_template() const override { return template_; }

 private:
  SpecialTokens special_;
  std::string template_ = "fake chatml";
};

// <|im_start|>role\ncontent<|im_end|>\n per message; trained: assistant content + <|im_end|>.
class FakeChatMl : public ChatEncoder {
 public:
  explicit FakeChatMl(const Tokenizer& tokenizer) : tokenizer_(tokenizer) {}
  Sample encode(const std::vector<Message>& messages, MaskMode mode) const override {
    size_t last_assistant = 0;
    for (size_t i = 0; i < messages.size(); ++i)
      if (messages[i].role == "assistant") last_assistant = i;
    Sample s;
    auto add = [&](const std::vector<TokenId>& ids, bool trained) {
      s.ids.insert(s.ids.end(), ids.begin(), ids.end());
      s.trained.insert(s.trained.end(), ids.size(), trained);
    };
    for (size_t i = 0; i < messages.size(); ++i) {
      const Message& m = messages[i];
      if (m.role == "tool") throw InputError("this template does not support the 'tool' role");
      bool train = mode == MaskMode::All || (m.role == "assistant" && (mode == MaskMode::Assistant || i == last_assistant));
      add({kImStart}, mode == MaskMode::All);
      add(tokenizer_.encode(m.role + "\n"), mode == MaskMode::All);
      add(tokenizer_.encode(m.content), train);
      add({kImEnd}, train);
      add(tokenizer_.encode("\n"), mode == MaskMode::All);
    }
    return s;
  }

 private:
  const Tokenizer& tokenizer_;
};

// A fresh folder per test under the build tree.
inline std::filesystem::path temp_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("tailor-pipeline-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

inline std::filesystem::path write(const std::filesystem::path& path, const std::string& content) {
  std::ofstream(path, std::ios::binary) << content;
  return path;
}

inline std::string decode_bytes(std::span<const TokenId> ids) { return ByteTokenizer().decode(ids, false); }

}  // namespace tailor::data::testing

#include "data/pipeline/data_config.h"
#include "data/pipeline/prepare.h"

namespace tailor::data::testing {

// Prepares `data_yaml` (the body of a recipe's data: section; paths relative to dir) with the fakes.
inline PrepareResult prepare_yaml(const std::filesystem::path& dir, const std::string& data_yaml,
                                  const std::string& tokenizer_hash = "fake-tokenizer-1", bool add_bos = true) {
  static ByteTokenizer with_bos(true), without_bos(false);
  const ByteTokenizer& tokenizer = add_bos ? with_bos : without_bos;
  static FakeChatMl chat_bos(with_bos), chat_plain(without_bos);
  DataConfig config = parse_data_config(YAML::Load(data_yaml), dir, "recipe.yaml");
  config.threads = 2;
  return prepare_dataset(config, tokenizer, add_bos ? &chat_bos : &chat_plain, {tokenizer_hash, "fake chatml"});
}

// Every kept document's text, in file order.
inline std::vector<std::string> documents_text(const PreparedDataset& data) {
  std::vector<std::string> texts;
  for (int64_t d = 0; d < data.documents(); ++d) texts.push_back(decode_bytes(data.document(d).ids));
  return texts;
}

// The trained tokens of a document, decoded.
inline std::string trained_text(const Sample& s) {
  std::vector<TokenId> ids;
  for (size_t i = 0; i < s.ids.size(); ++i)
    if (s.trained[i]) ids.push_back(s.ids[i]);
  return decode_bytes(ids);
}

inline std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const InputError& e) {
    return e.what();
  }
  return "<no InputError>";
}

}  // namespace tailor::data::testing
