// Unit tests for the tokenizers: special-token safety, invalid UTF-8, hostile regexes, bad files,
// batch encoding. Parity of the ids themselves is checked against HF in test_tokenizer_parity.py.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "data/tokenizer.h"

namespace fs = std::filesystem;
using tailor::InputError;
using tailor::data::TokenId;
using tailor::data::Tokenizer;

namespace {

fs::path shared_tokenizer(const std::string& name) { return fs::path(TAILOR_SOURCE_DIR) / ".." / "shared" / "tokenizers" / name; }

const Tokenizer& qwen3() {
  static auto tok = Tokenizer::load(shared_tokenizer("qwen3"));
  return *tok;
}
const Tokenizer& llama2() {
  static auto tok = Tokenizer::load(shared_tokenizer("llama2") / "tokenizer.json");
  return *tok;
}

// A small tokenizer.json written to a temporary file.
fs::path write_tokenizer(const std::string& name, const nlohmann::json& spec) {
  fs::path dir = fs::temp_directory_path() / ("tailor_tok_" + name + "_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "tokenizer.json") << spec.dump();
  return dir / "tokenizer.json";
}

nlohmann::json tiny_char_bpe(bool byte_fallback) {
  nlohmann::json vocab = {{"a", 0}, {"b", 1}, {"ab", 2}, {"<unk>", 3}};
  if (byte_fallback) vocab["<0xFF>"] = 4;
  return {{"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", {"a b"}}, {"byte_fallback", byte_fallback}}},
          {"added_tokens", nlohmann::json::array()}};
}

}  // namespace

TEST(Tokenizer, SpecialTokenTextIsOrdinaryTextUnlessAskedFor) {
  const Tokenizer& tok = qwen3();
  auto im_end = tok.token_to_id("<|im_end|>");
  ASSERT_TRUE(im_end);
  EXPECT_TRUE(tok.is_special(*im_end));
  auto plain = tok.encode("hi<|im_end|>");
  EXPECT_EQ(std::count(plain.begin(), plain.end(), *im_end), 0);
  EXPECT_GT(plain.size(), 2u);
  auto special = tok.encode_with_special("hi<|im_end|>");
  ASSERT_FALSE(special.empty());
  EXPECT_EQ(special.back(), *im_end);
  EXPECT_EQ(tok.decode(plain), "hi<|im_end|>");
  EXPECT_EQ(tok.decode(special, /*skip_special=*/true), "hi");
}

TEST(Tokenizer, SpecialTokensAndTemplateFromConfig) {
  const Tokenizer& tok = qwen3();
  const auto& s = tok.special_tokens();
  ASSERT_TRUE(s.eos);
  EXPECT_EQ(tok.id_to_token(*s.eos), "<|im_end|>");
  EXPECT_FALSE(s.add_bos);
  EXPECT_NE(tok.chat_template().find("<|im_start|>"), std::string::npos);
  auto llama3 = Tokenizer::load(shared_tokenizer("llama3_1"));
  EXPECT_TRUE(llama3->special_tokens().add_bos);
  ASSERT_TRUE(llama3->special_tokens().bos);
  EXPECT_EQ(llama3->id_to_token(*llama3->special_tokens().bos), "<|begin_of_text|>");
  auto eot = llama3->token_to_id("<|eot_id|>");
  ASSERT_TRUE(eot);
  const auto& eos_ids = llama3->special_tokens().eos_ids;
  EXPECT_NE(std::find(eos_ids.begin(), eos_ids.end(), *eot), eos_ids.end());
  EXPECT_TRUE(llama2().special_tokens().add_bos);
}

TEST(Tokenizer, InvalidUtf8BecomesByteTokensInByteLevelBpe) {
  const Tokenizer& tok = qwen3();
  std::string text = "ok \xff\xfe then \xe2\x82 cut";
  auto ids = tok.encode(text);
  ASSERT_FALSE(ids.empty());
  // Byte-level vocabularies spell every byte, so the ids carry the exact bytes (decode is lossy like HF's).
  std::string bytes;
  for (TokenId id : ids) bytes += tok.decode(std::vector<TokenId>{id});
  EXPECT_NE(tok.decode(ids).find("\xEF\xBF\xBD"), std::string::npos);  // U+FFFD for the bad bytes
  EXPECT_EQ(tok.decode(ids).substr(0, 3), "ok ");
}

TEST(Tokenizer, InvalidUtf8UsesByteFallbackPieces) {
  const Tokenizer& tok = llama2();
  auto ff = tok.token_to_id("<0xFF>");
  ASSERT_TRUE(ff);
  auto ids = tok.encode("a\xff" "b");
  EXPECT_NE(std::find(ids.begin(), ids.end(), *ff), ids.end());
}

TEST(Tokenizer, InvalidUtf8WithoutByteTokensIsAClearError) {
  auto tok = Tokenizer::load(write_tokenizer("nobytes", tiny_char_bpe(false)));
  EXPECT_EQ(tok->encode("ab"), std::vector<TokenId>{2});
  try {
    tok->encode("ab\xff");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("invalid UTF-8 at byte offset 2"), std::string::npos) << e.what();
  }
  auto with_fallback = Tokenizer::load(write_tokenizer("bytes", tiny_char_bpe(true)));
  EXPECT_EQ(with_fallback->encode("ab\xff"), (std::vector<TokenId>{2, 4}));
}

TEST(Tokenizer, RandomBytesNeverCrash) {
  std::mt19937 rng(1234);
  for (int n = 0; n < 300; ++n) {
    std::string s(size_t(rng() % 64), '\0');
    for (char& c : s) c = static_cast<char>(rng() % 256);
    for (const Tokenizer* tok : {&qwen3(), &llama2()}) {
      auto ids = tok->encode(s);
      EXPECT_NO_THROW(tok->decode(ids));
      EXPECT_NO_THROW(tok->encode_with_special(s));
    }
  }
}

TEST(Tokenizer, CatastrophicRegexFailsInsteadOfHanging) {
  nlohmann::json spec = tiny_char_bpe(true);
  spec["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", "(a|aa)+$"}}}, {"behavior", "Isolated"}, {"invert", false}};
  auto tok = Tokenizer::load(write_tokenizer("hostile", spec));
  std::string hostile(5000, 'a');
  hostile += 'b';
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_THROW(tok->encode(hostile), InputError);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 10.0);
}

TEST(Tokenizer, BadFilesAreInputErrors) {
  nlohmann::json bad_regex = tiny_char_bpe(false);
  bad_regex["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", "(unclosed"}}}, {"behavior", "Isolated"}};
  EXPECT_THROW(Tokenizer::load(write_tokenizer("badregex", bad_regex)), InputError);
  nlohmann::json unknown = tiny_char_bpe(false);
  unknown["model"]["type"] = "WordPiece";
  EXPECT_THROW(Tokenizer::load(write_tokenizer("wordpiece", unknown)), InputError);
  nlohmann::json bad_merge = tiny_char_bpe(false);
  bad_merge["model"]["merges"] = {"a b c"};
  EXPECT_THROW(Tokenizer::load(write_tokenizer("badmerge", bad_merge)), InputError);
  fs::path truncated = fs::temp_directory_path() / "tailor_tok_truncated.json";
  std::ofstream(truncated) << R"({"model": {"type": "BPE", "vocab": {"a")";
  EXPECT_THROW(Tokenizer::load(truncated), InputError);
  EXPECT_THROW(Tokenizer::load("/nonexistent/tokenizer.json"), InputError);
  EXPECT_THROW(qwen3().decode(std::vector<TokenId>{-1}), InputError);
  EXPECT_THROW(qwen3().id_to_token(10'000'000), InputError);
}

TEST(Tokenizer, BothMergeFormsGiveTheSameTokens) {
  nlohmann::json list_form = tiny_char_bpe(false);
  list_form["model"]["merges"] = nlohmann::json::array({nlohmann::json::array({"a", "b"})});
  auto a = Tokenizer::load(write_tokenizer("listmerges", list_form));
  EXPECT_EQ(a->encode("abab"), (std::vector<TokenId>{2, 2}));
}

TEST(Tokenizer, BatchEncodingMatchesSequential) {
  const Tokenizer& tok = qwen3();
  std::vector<std::string> texts;
  for (int i = 0; i < 200; ++i) texts.push_back("line " + std::to_string(i) + ": héllo wörld " + std::string(size_t(i % 7), '!'));
  std::vector<std::string_view> views(texts.begin(), texts.end());
  auto check = [&](unsigned threads) {
    auto batch = tailor::data::encode_batch(tok, views, threads);
    ASSERT_EQ(batch.size(), texts.size());
    for (size_t i = 0; i < texts.size(); ++i) EXPECT_EQ(batch[i], tok.encode(texts[i])) << i << " with " << threads << " threads";
  };
  // The worker threads are kept between calls: reuse, growth, fewer than exist, and two callers at once.
  for (unsigned threads : {4u, 2u, 3u, 1u, 6u}) check(threads);
  std::thread other([&] { check(3); });
  check(2);
  other.join();
}
