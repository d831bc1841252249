// A helper for the Python parity tests and the throughput benchmark: tokenizes a file with tailor's
// tokenizer and prints JSON (ids per line, ids of the whole file, decode round trips), or times encoding.
//   tokenizer_probe MODEL FILE            -> {"lines": [[...]], "whole": [...], "decoded_lines": [...], "decoded_whole": "...",
//                                            "whole_special": [...]}
//   tokenizer_probe MODEL FILE --bench N  -> {"single_mb_s": x, "batch": {"1": x, "2": y, ...}} (N threads max)
#include <chrono>
#include <fstream>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "data/tokenizer.h"
#include "data/tokenizers/unicode_text.h"

using tailor::data::TokenId;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

nlohmann::json bench(const tailor::data::Tokenizer& tok, const std::vector<std::string_view>& lines, size_t bytes,
                     unsigned max_threads) {
  nlohmann::json out;
  // Single thread: encode every line, repeated until ~1 s has passed (the first pass warms the cache,
  // as it does for HF's).
  for (auto line : lines) tok.encode(line);
  size_t rounds = 0;
  auto t0 = std::chrono::steady_clock::now();
  do {
    for (auto line : lines) tok.encode(line);
    ++rounds;
  } while (seconds_since(t0) < 1.0);
  out["single_mb_s"] = double(bytes) * double(rounds) / seconds_since(t0) / 1e6;
  // Batch: many copies of the corpus, split into lines, on 1..N threads.
  std::vector<std::string_view> many;
  for (int k = 0; k < 8; ++k) many.insert(many.end(), lines.begin(), lines.end());
  for (unsigned t = 1; t <= max_threads; t *= 2) {
    tailor::data::encode_batch(tok, many, t);  // warm each thread's cache
    auto t1 = std::chrono::steady_clock::now();
    tailor::data::encode_batch(tok, many, t);
    out["batch"][std::to_string(t)] = double(bytes) * 8 / seconds_since(t1) / 1e6;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: tokenizer_probe MODEL FILE [--bench THREADS]\n";
    return 2;
  }
  try {
    auto tok = tailor::data::Tokenizer::load(argv[1]);
    std::ifstream in(argv[2], std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    auto lines = tailor::data::text::split_lines(text);
    if (argc >= 5 && std::string(argv[3]) == "--bench") {
      std::cout << bench(*tok, lines, text.size(), unsigned(std::stoi(argv[4]))).dump() << "\n";
      return 0;
    }
    nlohmann::json out;
    out["lines"] = nlohmann::json::array();
    out["decoded_lines"] = nlohmann::json::array();
    for (auto line : lines) {
      auto ids = tok->encode(line);
      out["decoded_lines"].push_back(tok->decode(ids));
      out["lines"].push_back(std::move(ids));
    }
    out["whole_special"] = tok->encode_with_special(text);
    auto whole = tok->encode(text);
    out["decoded_whole"] = tok->decode(whole);
    out["whole"] = std::move(whole);
    std::cout << out.dump() << "\n";
  } catch (const tailor::InputError& e) {
    std::cerr << "tokenizer_probe: " << e.what() << "\n";
    return 2;
  }
  return 0;
}
