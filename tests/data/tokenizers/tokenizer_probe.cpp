// A helper for the Python parity tests and the throughput benchmark: tokenizes a file with tailor's
// tokenizer and prints JSON (ids per line, ids of the whole file, decode round trips), or times encoding.
//   tokenizer_probe MODEL FILE            -> {"lines": [[...]], "whole": [...], "decoded_lines": [...], "decoded_whole": "...",
//                                            "whole_special": [...]}
//   tokenizer_probe MODEL FILE --bench N  -> {"single_mb_s": x, "batch": {"1": {"mb_s": x, "cores_used": c}, "2": ...}}
//                                            (thread counts 1, 2, 4 .. N; cores_used = process CPU s / wall s)
#include <chrono>
#include <ctime>
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
  // Batch: many copies of the corpus, split into lines, on 1..N threads. Rounds alternate between the
  // thread counts (the machine is shared: load changes while this runs) and the best round counts. CPU
  // seconds of the process over wall seconds tell whether the threads actually got cores.
  std::vector<std::string_view> many;
  for (int k = 0; k < 8; ++k) many.insert(many.end(), lines.begin(), lines.end());
  for (int round = 0; round < 3; ++round)
    for (unsigned t = 1; t <= max_threads; t *= 2) {
      tailor::data::encode_batch(tok, many, t);  // warm each thread's cache
      size_t calls = 0;
      std::clock_t cpu0 = std::clock();
      auto t1 = std::chrono::steady_clock::now();
      do {
        tailor::data::encode_batch(tok, many, t);
        ++calls;
      } while (seconds_since(t1) < 0.5);
      double wall = seconds_since(t1), cpu = double(std::clock() - cpu0) / CLOCKS_PER_SEC;
      double mb_s = double(bytes) * 8 * double(calls) / wall / 1e6;
      auto& best = out["batch"][std::to_string(t)];
      if (best.is_null() || best["mb_s"].get<double>() < mb_s) best = {{"mb_s", mb_s}, {"cores_used", cpu / wall}};
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
