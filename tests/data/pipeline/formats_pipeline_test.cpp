// Source shapes (auto-detected, overridden, column-mapped), containers (JSONL, JSON array, .txt) and
// every bad-input case, through prepare_dataset with the fake tokenizer.
#include "tests/data/pipeline/fakes.h"

namespace tailor::data::testing {
namespace {

using ::testing::HasSubstr;

std::string source_yaml(const std::string& file, const std::string& extra = "") {
  return "sources: [{path: " + file + extra + "}]\nmax_seq_len: 512\n";
}

Sample chatml(const std::vector<Message>& messages, MaskMode mode = MaskMode::Assistant) {
  static ByteTokenizer tokenizer;
  return FakeChatMl(tokenizer).encode(messages, mode);
}

TEST(Formats, OpenAiMessagesGoThroughTheTemplateWithTheAssistantMask) {
  auto dir = temp_dir("openai");
  write(dir / "a.jsonl",
        R"({"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]})"
        "\n");
  auto result = prepare_yaml(dir, source_yaml("a.jsonl"));
  ASSERT_EQ(result.dataset->documents(), 1);
  Sample doc = result.dataset->document(0);
  Sample expected = chatml({{"system", "Be brief."}, {"user", "Hi"}, {"assistant", "Hello!"}});
  EXPECT_EQ(doc.ids, expected.ids);
  EXPECT_EQ(doc.trained, expected.trained);
  EXPECT_EQ(trained_text(doc), "Hello!<|im_end|>");
  EXPECT_EQ(result.stats.sources[0].format, "messages");
}

TEST(Formats, ShareGptMapsHumanAndGptRoles) {
  auto dir = temp_dir("sharegpt");
  write(dir / "s.jsonl",
        R"({"conversations": [{"from": "system", "value": "S"}, {"from": "human", "value": "Q"}, {"from": "gpt", "value": "A"}]})"
        "\n");
  auto result = prepare_yaml(dir, source_yaml("s.jsonl"));
  EXPECT_EQ(result.stats.sources[0].format, "sharegpt");
  EXPECT_EQ(result.dataset->document(0).ids, chatml({{"system", "S"}, {"user", "Q"}, {"assistant", "A"}}).ids);
}

TEST(Formats, AlpacaBecomesAConversationWithOptionalSystemAndInput) {
  auto dir = temp_dir("alpaca");
  write(dir / "a.json", R"([{"instruction": "Translate", "input": "chat", "output": "cat", "system": "You translate."},
                             {"instruction": "Say hi", "output": "hi"}])");
  auto result = prepare_yaml(dir, source_yaml("a.json"));
  EXPECT_EQ(result.stats.sources[0].format, "alpaca");
  ASSERT_EQ(result.dataset->documents(), 2);
  EXPECT_EQ(result.dataset->document(0).ids,
            chatml({{"system", "You translate."}, {"user", "Translate\n\nchat"}, {"assistant", "cat"}}).ids);
  EXPECT_EQ(result.dataset->document(1).ids, chatml({{"user", "Say hi"}, {"assistant", "hi"}}).ids);
}

TEST(Formats, CompletionMasksThePrompt) {
  auto dir = temp_dir("completion");
  write(dir / "c.jsonl", R"({"prompt": "2+2=", "completion": "4"})" "\n");
  auto result = prepare_yaml(dir, source_yaml("c.jsonl"));
  Sample doc = result.dataset->document(0);
  EXPECT_EQ(decode_bytes(doc.ids), "<s>2+2=4</s>");
  EXPECT_EQ(doc.trained, (std::vector<uint8_t>{0, 0, 0, 0, 0, 1, 1}));
}

TEST(Formats, TextTrainsEverythingWithBosAndEosAsTheTokenizerSays) {
  auto dir = temp_dir("text");
  write(dir / "t.jsonl", R"({"text": "abc"})" "\n");
  auto with_bos = prepare_yaml(dir, source_yaml("t.jsonl"));
  EXPECT_EQ(decode_bytes(with_bos.dataset->document(0).ids), "<s>abc</s>");
  EXPECT_EQ(with_bos.dataset->document(0).trained, (std::vector<uint8_t>{0, 1, 1, 1, 1}));
  auto without_bos = prepare_yaml(dir, source_yaml("t.jsonl"), "no-bos-tokenizer", /*add_bos=*/false);
  EXPECT_EQ(decode_bytes(without_bos.dataset->document(0).ids), "abc</s>");
}

TEST(Formats, TxtFilesSplitIntoDocumentsByBlankLinesOrASeparator) {
  auto dir = temp_dir("txt");
  write(dir / "corpus.txt", "first line\nsecond line\n\n\nsecond doc\n\nthird doc\n");
  auto blank = prepare_yaml(dir, source_yaml("corpus.txt"));
  EXPECT_EQ(documents_text(*blank.dataset),
            (std::vector<std::string>{"<s>first line\nsecond line</s>", "<s>second doc</s>", "<s>third doc</s>"}));
  write(dir / "sep.txt", "one\n\nstill one\n---\ntwo\n");
  auto separated = prepare_yaml(dir, source_yaml("sep.txt", ", separator: '---'"));
  EXPECT_EQ(documents_text(*separated.dataset), (std::vector<std::string>{"<s>one\n\nstill one</s>", "<s>two</s>"}));
}

TEST(Formats, JsonArrayAndJsonlGiveTheSameDocuments) {
  auto dir = temp_dir("array");
  write(dir / "a.jsonl", "{\"text\": \"x, [y]\"}\n\n{\"text\": \"z\\\"]\"}\n");
  write(dir / "b.json", "[\n {\"text\": \"x, [y]\"},\n {\"text\": \"z\\\"]\"}\n]\n");
  EXPECT_EQ(documents_text(*prepare_yaml(dir, source_yaml("a.jsonl")).dataset),
            documents_text(*prepare_yaml(dir, source_yaml("b.json")).dataset));
  EXPECT_EQ(prepare_yaml(dir, source_yaml("b.json")).dataset->documents(), 2);
}

TEST(Formats, ColumnMappingAndExplicitFormatOverride) {
  auto dir = temp_dir("columns");
  write(dir / "m.jsonl", R"({"dialog": [{"speaker": "user", "utterance": "Q"}, {"speaker": "assistant", "utterance": "A"}], "text": "ignored"})" "\n");
  auto mapped = prepare_yaml(dir, source_yaml("m.jsonl", ", format: messages, columns: {messages: dialog, role: speaker, content: utterance}"));
  EXPECT_EQ(mapped.dataset->document(0).ids, chatml({{"user", "Q"}, {"assistant", "A"}}).ids);
  // Auto-detection would find 'text'; the override reads the same file as text.
  auto as_text = prepare_yaml(dir, source_yaml("m.jsonl", ", format: text"));
  EXPECT_EQ(documents_text(*as_text.dataset), (std::vector<std::string>{"<s>ignored</s>"}));
}

// Each bad input stops the run by default with file:line, the problem and the format.
struct BadCase {
  const char* name;
  std::string content;
  const char* expected;
  BadReason reason;
};

std::vector<BadCase> bad_cases() {
  std::string deep = "{\"text\": \"ok\", \"x\": " + std::string(70, '[') + std::string(70, ']') + "}";
  return {
      {"malformed", "{\"text\": \"ok\"}\n{\"text\": \"broken\"\n", "b.jsonl:2: malformed JSON (format: text)", BadReason::MalformedJson},
      {"missing", "{\"instruction\": \"i\", \"output\": \"o\"}\n{\"instruction\": \"i\"}\n",
       "b.jsonl:2: missing field 'output' (format: alpaca)", BadReason::MissingField},
      {"wrong_type", "{\"prompt\": \"p\", \"completion\": \"c\"}\n{\"prompt\": \"p\", \"completion\": 5}\n",
       "b.jsonl:2: field 'completion' is number, expected a string (format: completion)", BadReason::WrongType},
      {"unknown_role",
       "{\"messages\": [{\"role\": \"user\", \"content\": \"q\"}, {\"role\": \"assistant\", \"content\": \"a\"}]}\n"
       "{\"messages\": [{\"role\": \"wizard\", \"content\": \"q\"}, {\"role\": \"assistant\", \"content\": \"a\"}]}\n",
       "b.jsonl:2: unknown role 'wizard'", BadReason::UnknownRole},
      {"utf8", "{\"text\": \"ok\"}\n{\"text\": \"bad \xC3\x28 byte\"}\n", "b.jsonl:2: invalid UTF-8 (format: text)", BadReason::InvalidUtf8},
      {"deep", "{\"text\": \"ok\"}\n" + deep + "\n", "b.jsonl:2: JSON nested deeper than 64 levels", BadReason::TooDeep},
      {"empty", "", "b.jsonl: empty file", BadReason::EmptyFile},
  };
}

TEST(BadInput, EachCaseStopsWithFileLineProblemAndFormat) {
  for (const BadCase& c : bad_cases()) {
    auto dir = temp_dir(std::string("bad-") + c.name);
    write(dir / "b.jsonl", c.content);
    std::string error = error_of([&] { prepare_yaml(dir, source_yaml("b.jsonl")); });
    EXPECT_THAT(error, HasSubstr(c.expected)) << c.name;
    EXPECT_THAT(error, HasSubstr("data.sources[0]")) << c.name;
  }
}

TEST(BadInput, SkipBadCountsEachReasonAndKeepsTheGoodLines) {
  for (const BadCase& c : bad_cases()) {
    if (c.reason == BadReason::EmptyFile) continue;
    auto dir = temp_dir(std::string("skip-") + c.name);
    write(dir / "b.jsonl", c.content);
    auto result = prepare_yaml(dir, source_yaml("b.jsonl") + "skip_bad: true\n");
    const SourceStats& s = result.stats.sources[0];
    EXPECT_EQ(s.bad.counts[static_cast<size_t>(c.reason)], 1u) << c.name;
    EXPECT_EQ(s.bad.total(), 1u) << c.name;
    ASSERT_EQ(s.bad.first_examples.size(), 1u) << c.name;
    EXPECT_THAT(s.bad.first_examples[0], HasSubstr(c.expected)) << c.name;
    EXPECT_EQ(result.dataset->documents(), 1) << c.name;
  }
}

TEST(BadInput, AnEmptyFileIsSkippedWithSkipBadButAnEmptyDatasetIsAnError) {
  auto dir = temp_dir("empty-skip");
  write(dir / "empty.jsonl", "");
  write(dir / "good.jsonl", "{\"text\": \"fine\"}\n");
  auto result = prepare_yaml(dir, "sources: [{path: empty.jsonl}, {path: good.jsonl}]\nskip_bad: true\n");
  EXPECT_EQ(result.stats.sources[0].bad.counts[static_cast<size_t>(BadReason::EmptyFile)], 1u);
  EXPECT_EQ(result.dataset->documents(), 1);
  EXPECT_THAT(error_of([&] { prepare_yaml(dir, "sources: [{path: empty.jsonl}]\nskip_bad: true\n"); }),
              HasSubstr("the dataset is empty"));
}

TEST(BadInput, AMalformedJsonArrayIsReported) {
  auto dir = temp_dir("bad-array");
  write(dir / "a.json", "[{\"text\": \"a\"}, {\"text\": \"b\"}");
  EXPECT_THAT(error_of([&] { prepare_yaml(dir, source_yaml("a.json")); }), HasSubstr("not closed with ']'"));
}

TEST(BadInput, TemplateRejectionsStopOrAreCounted) {
  auto dir = temp_dir("template-reject");
  write(dir / "t.jsonl",
        "{\"messages\": [{\"role\": \"user\", \"content\": \"q\"}, {\"role\": \"assistant\", \"content\": \"a\"}]}\n"
        "{\"messages\": [{\"role\": \"tool\", \"content\": \"q\"}, {\"role\": \"assistant\", \"content\": \"a\"}]}\n");
  EXPECT_THAT(error_of([&] { prepare_yaml(dir, source_yaml("t.jsonl")); }), HasSubstr("t.jsonl:2: this template does not support"));
  auto skipped = prepare_yaml(dir, source_yaml("t.jsonl") + "skip_bad: true\n");
  EXPECT_EQ(skipped.stats.sources[0].dropped[static_cast<size_t>(DropReason::TemplateError)], 1u);
}

TEST(RawReader, LinesLongerThanTheCapAreFlaggedNotBuffered) {
  auto dir = temp_dir("long-line");
  write(dir / "l.jsonl", "{\"text\": \"" + std::string(5000, 'x') + "\"}\n{\"text\": \"ok\"}\n");
  ReadLimits limits;
  limits.max_item_bytes = 1000;
  RawReader reader(dir / "l.jsonl", Container::Jsonl, limits);
  RawItem item;
  ASSERT_TRUE(reader.next(item));
  EXPECT_EQ(item.problem, BadReason::LineTooLong);
  EXPECT_TRUE(item.body.empty());
  ASSERT_TRUE(reader.next(item));
  EXPECT_FALSE(item.problem.has_value());
  EXPECT_EQ(item.line, 2u);
  EXPECT_FALSE(reader.next(item));
}

TEST(RawReader, Utf8Validation) {
  EXPECT_TRUE(valid_utf8("Tiếng Việt có dấu 😀"));
  EXPECT_FALSE(valid_utf8("\xC3\x28"));
  EXPECT_FALSE(valid_utf8("\xE0\x80\x80"));      // overlong
  EXPECT_FALSE(valid_utf8("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(valid_utf8("abcdefgh\xF4\x90\x80\x80"));  // beyond U+10FFFF
}

}  // namespace
}  // namespace tailor::data::testing
