// Tokenizer::load picks the implementation from what the path holds; encode_batch fans out to threads.
#include "data/tokenizer.h"

#include <atomic>
#include <exception>
#include <fstream>
#include <thread>

#include "core/error.h"
#include "data/tokenizers/bpe_tokenizer.h"
#include "data/tokenizers/gguf_vocab.h"
#include "data/tokenizers/sentencepiece_tokenizer.h"
#include "data/tokenizers/worker_pool.h"

namespace tailor::data {
namespace fs = std::filesystem;

namespace {

std::string magic_of(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  char buf[4] = {};
  in.read(buf, 4);
  return std::string(buf, size_t(in.gcount()));
}

}  // namespace

std::unique_ptr<Tokenizer> Tokenizer::load(const fs::path& path) {
  if (!fs::exists(path)) throw InputError(path.string() + ": no such file or folder");
  if (fs::is_directory(path)) {
    if (fs::exists(path / "tokenizer.json")) return load_tokenizer_json(path / "tokenizer.json", path);
    if (fs::exists(path / "tokenizer.model")) return load_sentencepiece(path / "tokenizer.model", path);
    for (const auto& entry : fs::directory_iterator(path))
      if (entry.path().extension() == ".gguf") return load_gguf_tokenizer(entry.path());
    throw InputError(path.string() + ": no tokenizer.json, tokenizer.model or .gguf file in this folder");
  }
  fs::path dir = path.parent_path().empty() ? fs::path(".") : path.parent_path();
  std::string magic = magic_of(path);
  if (magic == "GGUF") return load_gguf_tokenizer(path);
  if (path.extension() == ".json" || (!magic.empty() && magic[0] == '{')) return load_tokenizer_json(path, dir);
  if (path.extension() == ".model") return load_sentencepiece(path, dir);
  throw InputError(path.string() + ": not a tokenizer.json, SentencePiece .model or GGUF file");
}

std::vector<std::vector<TokenId>> encode_batch(const Tokenizer& tokenizer, std::span<const std::string_view> texts,
                                               unsigned threads, bool with_special) {
  std::vector<std::vector<TokenId>> out(texts.size());
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  threads = unsigned(std::min<size_t>(threads, texts.size()));
  std::atomic<size_t> next{0};
  std::exception_ptr error;
  std::atomic<bool> failed{false};
  auto work = [&] {
    // Small chunks keep threads busy when text lengths vary; each text is encoded by one thread.
    constexpr size_t kChunk = 16;
    while (!failed) {
      size_t begin = next.fetch_add(kChunk);
      if (begin >= texts.size()) return;
      try {
        for (size_t i = begin; i < std::min(begin + kChunk, texts.size()); ++i)
          out[i] = with_special ? tokenizer.encode_with_special(texts[i]) : tokenizer.encode(texts[i]);
      } catch (...) {
        if (!failed.exchange(true)) error = std::current_exception();
      }
    }
  };
  // The calling thread is one of the workers; the others are kept between calls (warm caches).
  if (threads <= 1) work();
  else WorkerPool::shared().run(threads - 1, work);
  if (error) std::rethrow_exception(error);
  return out;
}

}  // namespace tailor::data
