#include "data/pipeline/transform.h"

#include "core/error.h"

namespace tailor::data {
namespace {

void append(Sample& sample, const std::vector<TokenId>& ids, uint8_t trained) {
  sample.ids.insert(sample.ids.end(), ids.begin(), ids.end());
  sample.trained.insert(sample.trained.end(), ids.size(), trained);
}

void append(Sample& sample, TokenId id, uint8_t trained) {
  sample.ids.push_back(id);
  sample.trained.push_back(trained);
}

}  // namespace

const char* drop_reason_name(DropReason reason) {
  switch (reason) {
    case DropReason::TooLong: return "too long";
    case DropReason::SplitNotText: return "too long (split applies to text only)";
    case DropReason::NoTrainedTokens: return "no trained tokens";
    case DropReason::Duplicate: return "duplicate";
    case DropReason::TemplateError: return "rejected by the chat template";
    case DropReason::kCount: break;
  }
  return "?";
}

Transformer::Transformer(const Tokenizer& tokenizer, const ChatEncoder* chat, TransformOptions options)
    : tokenizer_(tokenizer), chat_(chat), options_(options) {}

Sample Transformer::tokenize(const Record& record) const {
  const SpecialTokens& special = tokenizer_.special_tokens();
  Sample sample;
  switch (record.kind) {
    case Record::Kind::Chat:
      if (!chat_) throw InputError("the tokenizer has no chat template; set data.chat_template to a .jinja file");
      return chat_->encode(record.messages, options_.mask);
    case Record::Kind::Completion:
      if (special.add_bos && special.bos) append(sample, *special.bos, 0);
      append(sample, tokenizer_.encode(record.prompt), 0);
      append(sample, tokenizer_.encode(record.completion), 1);
      if (special.eos) append(sample, *special.eos, 1);  // the model must learn where a completion stops
      return sample;
    case Record::Kind::Text:
      // BOS only where the model expects one; EOS always ends a document so packed neighbours are
      // separated and the model learns document ends.
      if (special.add_bos && special.bos) append(sample, *special.bos, 0);
      append(sample, tokenizer_.encode(record.text), 1);
      if (special.eos) append(sample, *special.eos, 1);
      return sample;
  }
  return sample;
}

TransformResult Transformer::apply(const Record& record) const {
  TransformResult result;
  Sample sample;
  try {
    sample = tokenize(record);
  } catch (const InputError& e) {
    if (!chat_ || record.kind != Record::Kind::Chat) throw;
    result.dropped = DropReason::TemplateError;
    result.drop_detail = e.what();
    return result;
  }
  const size_t max_len = options_.max_seq_len;
  if (sample.ids.size() > max_len) {
    switch (options_.length_policy) {
      case LengthPolicy::Truncate:
        sample.ids.resize(max_len);
        sample.trained.resize(max_len);
        result.truncated = true;
        break;
      case LengthPolicy::Drop:
        result.dropped = DropReason::TooLong;
        return result;
      case LengthPolicy::Split:
        if (record.kind != Record::Kind::Text) {
          result.dropped = DropReason::SplitNotText;
          return result;
        }
        for (size_t start = 0; start < sample.ids.size(); start += max_len) {
          size_t end = std::min(sample.ids.size(), start + max_len);
          Sample piece;
          piece.ids.assign(sample.ids.begin() + start, sample.ids.begin() + end);
          piece.trained.assign(sample.trained.begin() + start, sample.trained.begin() + end);
          // A piece of one token trains nothing (its only token is never predicted).
          if (piece.ids.size() >= 2) result.samples.push_back(std::move(piece));
        }
        return result;
    }
  }
  // The first token of a document is never a prediction target, so it does not count as trained.
  size_t trained = sample.trained.empty() ? 0 : sample.trained_count() - sample.trained[0];
  if (trained == 0) {
    result.dropped = DropReason::NoTrainedTokens;
    return result;
  }
  result.samples.push_back(std::move(sample));
  return result;
}

}  // namespace tailor::data
