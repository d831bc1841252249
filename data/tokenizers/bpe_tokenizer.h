// The Tokenizer for BPE vocabularies (tokenizer.json and GGUF): added tokens -> normalizers ->
// pre-tokenizers -> BPE model, and the decoder chain back.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "data/tokenizer.h"
#include "data/tokenizers/added_tokens.h"
#include "data/tokenizers/bpe_model.h"
#include "data/tokenizers/text_pipeline.h"

namespace tailor::data {

struct BpePipeline {
  std::vector<std::unique_ptr<Normalizer>> normalizers;
  std::vector<std::unique_ptr<PreTokenizer>> pre_tokenizers;
  std::vector<std::unique_ptr<Decoder>> decoders;
  std::unique_ptr<BpeModel> model;
  std::vector<AddedToken> added;
  SpecialTokens specials;
  std::string chat_template;
};

class BpeTokenizer final : public Tokenizer {
 public:
  explicit BpeTokenizer(BpePipeline pipeline);

  std::vector<TokenId> encode(std::string_view text) const override { return encode_impl(text, false, true); }
  std::vector<TokenId> encode_with_special(std::string_view text) const override { return encode_impl(text, true, true); }
  std::vector<TokenId> encode_continuation(std::string_view text) const override { return encode_impl(text, false, false); }
  std::string decode(std::span<const TokenId> ids, bool skip_special = false) const override;
  size_t vocab_size() const override { return vocab_size_; }
  std::optional<TokenId> token_to_id(std::string_view token) const override;
  std::string id_to_token(TokenId id) const override;
  bool is_special(TokenId id) const override;
  WhitespaceStrip added_token_strip(TokenId id) const override;
  const SpecialTokens& special_tokens() const override { return p_.specials; }
  const std::string& chat_template() const override { return p_.chat_template; }

  SpecialTokens& mutable_special_tokens() { return p_.specials; }
  std::string& mutable_chat_template() { return p_.chat_template; }

 private:
  std::vector<TokenId> encode_impl(std::string_view text, bool match_special, bool at_start) const;
  void encode_valid(std::string_view text, bool match_special, bool at_start, std::vector<TokenId>& out) const;
  void encode_segment(std::string_view text, bool at_start, std::vector<TokenId>& out) const;
  void encode_invalid_byte(std::string_view text, size_t offset, std::vector<TokenId>& out) const;

  BpePipeline p_;
  bool byte_level_ = false;
  AddedTokenMatcher raw_matcher_, normalized_matcher_;
  std::unordered_map<TokenId, const AddedToken*> added_by_id_;
  std::unordered_map<std::string, TokenId> added_by_content_;
  size_t vocab_size_ = 0;
};

// tokenizer.json at `path`; tokenizer_config.json and friends are read from `config_dir`.
std::unique_ptr<Tokenizer> load_tokenizer_json(const std::filesystem::path& path, const std::filesystem::path& config_dir);

}  // namespace tailor::data
