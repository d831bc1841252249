// `tailor chat`: an interactive conversation through the model's chat template, streaming replies.
// Each line on standard input is a user turn; "/reset" starts over, "/exit" or end of input quits.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <iostream>

#include "cli/model_session.h"
#include "cli/verbs.h"
#include "core/error.h"
#include "data/chat_mask.h"
#include "data/chat_template.h"

namespace tailor::cli {
namespace {

struct ChatFlags {
  ModelFlags model;
  std::string system;
  models::SamplingOptions sampling;
};

void run_chat(ChatFlags flags) {
  ModelSession session = ModelSession::open(flags.model);
  if (session.tokenizer->chat_template().empty())
    throw InputError(flags.model.model + ": the tokenizer has no chat template");
  const data::ChatTemplate chat_template = data::ChatTemplate::for_tokenizer(*session.tokenizer);
  const data::ChatMasker encoder(chat_template, *session.tokenizer);
  flags.sampling.stop_ids = session.stop_ids();
  const bool interactive = isatty(0);

  auto fresh = [&] {
    nlohmann::ordered_json messages = nlohmann::ordered_json::array();
    if (!flags.system.empty()) messages.push_back({{"role", "system"}, {"content", flags.system}});
    return messages;
  };
  nlohmann::ordered_json messages = fresh();
  std::string line;
  while (true) {
    if (interactive) std::cout << "> " << std::flush;
    if (!std::getline(std::cin, line) || line == "/exit") break;
    if (line == "/reset") {
      messages = fresh();
      continue;
    }
    if (line.empty()) continue;
    messages.push_back({{"role", "user"}, {"content", line}});
    data::ChatOptions options;
    options.add_generation_prompt = true;
    std::vector<data::TokenId> prompt_ids = encoder.encode(chat_template.render_tracked(messages, options));
    std::vector<int64_t> prompt(prompt_ids.begin(), prompt_ids.end());
    TextStream stream(*session.tokenizer);
    models::GenerationResult r = models::generate(*session.model, prompt, flags.sampling, [&](int64_t id) {
      std::cout << stream.push(id) << std::flush;
      return true;
    });
    std::cout << stream.finish() << "\n";
    std::vector<data::TokenId> reply(r.tokens.begin(), r.tokens.end());
    messages.push_back({{"role", "assistant"}, {"content", session.tokenizer->decode(reply, /*skip_special=*/true)}});
  }
}

const RegisterVerb chat_verb(90, [](CLI::App& app) {
  auto flags = std::make_shared<ChatFlags>();
  CLI::App* verb = app.add_subcommand("chat", "Talk to a model through its chat template (one line per turn)");
  flags->model.add_to(*verb);
  verb->add_option("--system", flags->system, "system prompt");
  flags->sampling.max_new_tokens = 512;
  add_sampling_flags(*verb, flags->sampling);
  verb->callback([flags] { run_chat(*flags); });
});

}  // namespace
}  // namespace tailor::cli
