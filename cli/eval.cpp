// `tailor eval`: mean token loss, perplexity and bits per byte of a model over a text file.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "cli/model_session.h"
#include "cli/verbs.h"
#include "core/error.h"
#include "models/evaluate.h"

namespace tailor::cli {
namespace {

struct EvalFlags {
  ModelFlags model;
  std::string text;
  int64_t context = 0, stride = 0;
  bool json = false;
};

void run_eval(const EvalFlags& flags) {
  std::ifstream in(flags.text, std::ios::binary);
  if (!in) throw InputError(flags.text + ": cannot open");
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();

  ModelSession session = ModelSession::open(flags.model);
  std::vector<int64_t> ids = session.encode_prompt(text);
  models::EvalOptions options{flags.context, flags.stride};
  auto progress = [&](int64_t done, int64_t total) {
    if (!flags.json) std::cerr << "\rscored " << done << "/" << total << " tokens" << std::flush;
  };
  models::EvalResult r = models::evaluate_stream(*session.model, ids, int64_t(text.size()), options, progress);
  if (flags.json) {
    nlohmann::json out = {{"loss", r.loss()},          {"perplexity", r.perplexity()},
                          {"bits_per_byte", r.bits_per_byte()}, {"tokens", r.tokens},
                          {"bytes", r.bytes}};
    std::cout << out.dump() << "\n";
    return;
  }
  std::cerr << "\n";
  std::cout << std::fixed << std::setprecision(4) << "loss           " << r.loss() << " nats/token\n"
            << "perplexity     " << r.perplexity() << "\n"
            << "bits per byte  " << r.bits_per_byte() << "\n"
            << "tokens scored  " << r.tokens << "\n"
            << "bytes          " << r.bytes << "\n";
}

const RegisterVerb eval_verb(100, [](CLI::App& app) {
  auto flags = std::make_shared<EvalFlags>();
  CLI::App* verb = app.add_subcommand("eval", "Loss, perplexity and bits per byte of a model over a text file");
  flags->model.add_to(*verb);
  verb->add_option("--text", flags->text, "UTF-8 text file")->required();
  verb->add_option("--context", flags->context, "window length in tokens (default: min(model context, 2048))");
  verb->add_option("--stride", flags->stride, "window step for long files (default: context / 2)");
  verb->add_flag("--json", flags->json, "print one JSON object: loss, perplexity, bits_per_byte, tokens, bytes");
  verb->callback([flags] { run_eval(*flags); });
});

}  // namespace
}  // namespace tailor::cli
