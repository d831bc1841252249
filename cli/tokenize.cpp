// `tailor tokenize`: ids, pieces or statistics of text under a model's tokenizer.
#include <CLI/CLI.hpp>

#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "cli/verbs.h"
#include "core/error.h"
#include "data/tokenizer.h"
#include "data/tokenizers/unicode_text.h"

namespace tailor::cli {
namespace {

struct TokenizeOptions {
  std::string model, input;
  bool ids = false, pieces = false, stats = false, special = false;
  unsigned threads = 0;
};

std::string read_input(const std::string& path) {
  std::stringstream ss;
  if (path.empty() || path == "-") {
    ss << std::cin.rdbuf();
  } else {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw InputError(path + ": cannot open");
    ss << in.rdbuf();
  }
  return ss.str();
}

void print_stats(const data::Tokenizer& tok, std::string_view text, bool special) {
  auto ids = special ? tok.encode_with_special(text) : tok.encode(text);
  size_t chars = 0, words = 0;
  bool in_word = false;
  for (unsigned char c : text) {
    if ((c & 0xC0) != 0x80) ++chars;
    bool space = c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
    if (!space && !in_word) ++words;
    in_word = !space;
  }
  std::cout << "characters      " << chars << "\n"
            << "bytes           " << text.size() << "\n"
            << "tokens          " << ids.size() << "\n"
            << std::fixed << std::setprecision(3)
            << "bytes/token     " << (ids.empty() ? 0.0 : double(text.size()) / double(ids.size())) << "\n"
            << "tokens/word     " << (words ? double(ids.size()) / double(words) : 0.0) << "\n";
}

void run_tokenize(const TokenizeOptions& o) {
  auto tok = data::Tokenizer::load(o.model);
  std::string text = read_input(o.input);
  if (o.stats) return print_stats(*tok, text, o.special);
  auto lines = data::text::split_lines(text);
  auto encoded = data::encode_batch(*tok, lines, o.threads, o.special);
  std::string out;
  for (size_t i = 0; i < encoded.size(); ++i) {
    try {
      for (size_t k = 0; k < encoded[i].size(); ++k) {
        if (k) out += ' ';
        out += o.pieces ? tok->id_to_token(encoded[i][k]) : std::to_string(encoded[i][k]);
      }
    } catch (const InputError&) {
      rethrow_with_context((o.input.empty() ? std::string("<stdin>") : o.input) + ":" + std::to_string(i + 1));
    }
    out += '\n';
  }
  std::cout << out;
}

const RegisterVerb tokenize_verb(60, [](CLI::App& app) {
  auto o = std::make_shared<TokenizeOptions>();
  auto* cmd = app.add_subcommand("tokenize", "Tokenize text with a model's tokenizer (ids, pieces or statistics)");
  cmd->add_option("--model", o->model, "HF model folder, tokenizer folder, tokenizer.json, SentencePiece .model or .gguf")
      ->required();
  cmd->add_option("--input", o->input, "Text file (default: standard input)");
  auto* ids = cmd->add_flag("--ids", o->ids, "One line of space-separated ids per input line (default)");
  auto* pieces = cmd->add_flag("--pieces", o->pieces, "One line of vocabulary pieces per input line");
  auto* stats = cmd->add_flag("--stats", o->stats, "Characters, bytes, tokens, bytes per token, tokens per word");
  ids->excludes(pieces)->excludes(stats);
  pieces->excludes(stats);
  cmd->add_flag("--special", o->special, "Match special-token text (e.g. <|im_end|>) as special tokens");
  cmd->add_option("--threads", o->threads, "Encoding threads (default: all cores)");
  cmd->callback([o] { run_tokenize(*o); });
});

}  // namespace
}  // namespace tailor::cli
