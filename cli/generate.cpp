// `tailor generate`: continue a prompt with a KV cache, streaming the text as it is produced.
#include <CLI/CLI.hpp>

#include <iomanip>
#include <iostream>

#include "cli/model_session.h"
#include "cli/verbs.h"

namespace tailor::cli {
namespace {

struct GenerateFlags {
  ModelFlags model;
  std::string prompt;
  models::SamplingOptions sampling;
  bool ids = false, stats = false, no_stop = false;
};

void run_generate(GenerateFlags flags) {
  ModelSession session = ModelSession::open(flags.model);
  if (!flags.no_stop) flags.sampling.stop_ids = session.stop_ids();
  std::vector<int64_t> prompt = session.encode_prompt(flags.prompt);
  TextStream stream(*session.tokenizer);
  auto on_token = [&](int64_t id) {
    if (flags.ids)
      std::cout << id << " " << std::flush;
    else
      std::cout << stream.push(id) << std::flush;
    return true;
  };
  models::GenerationResult r = models::generate(*session.model, prompt, flags.sampling, on_token);
  std::cout << (flags.ids ? "" : stream.finish()) << "\n";
  if (flags.stats) {
    const double decode_tokens = double(std::max<size_t>(r.tokens.size(), 1) - 1);
    std::cerr << std::fixed << std::setprecision(2) << "load " << session.load_seconds << " s, prompt "
              << r.prompt_tokens << " tokens in " << r.prefill_seconds << " s, generated " << r.tokens.size()
              << " tokens, " << (r.decode_seconds > 0 ? decode_tokens / r.decode_seconds : 0.0) << " tokens/s"
              << (r.stopped ? " (stop token)" : "") << "\n";
  }
}

const RegisterVerb generate_verb(80, [](CLI::App& app) {
  auto flags = std::make_shared<GenerateFlags>();
  CLI::App* verb = app.add_subcommand("generate", "Continue a prompt (greedy or sampled), streaming the text");
  flags->model.add_to(*verb);
  verb->add_option("--prompt", flags->prompt, "prompt text")->required();
  add_sampling_flags(*verb, flags->sampling);
  verb->add_flag("--ids", flags->ids, "print generated token ids instead of text");
  verb->add_flag("--no-stop", flags->no_stop, "ignore end-of-sequence tokens");
  verb->add_flag("--stats", flags->stats, "print load time and tokens/s to stderr");
  verb->callback([flags] { run_generate(*flags); });
});

}  // namespace
}  // namespace tailor::cli
