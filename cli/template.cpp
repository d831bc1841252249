// `tailor template`: render a conversation with a model's chat template, optionally showing which
// tokens a fine-tune trains on.
#include <CLI/CLI.hpp>

#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/verbs.h"
#include "core/error.h"
#include "data/chat_mask.h"
#include "data/chat_template.h"
#include "data/tokenizer.h"

namespace tailor::cli {
namespace {

using json = nlohmann::ordered_json;

struct TemplateArgs {
  std::string model, messages, template_file, vars;
  bool add_generation_prompt = false, mask = false, last_turn = false;
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path + ": cannot open");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void run_template(const TemplateArgs& args) {
  auto tokenizer = data::Tokenizer::load(args.model);
  std::string source = args.template_file.empty() ? std::string() : read_file(args.template_file);
  data::ChatTemplate chat_template = data::ChatTemplate::for_tokenizer(*tokenizer, source);

  // The file holds a message array, or an object with "messages" plus template variables (tools, ...).
  json input;
  try {
    input = json::parse(read_file(args.messages));
  } catch (const json::parse_error& e) {
    throw InputError(args.messages + ": not valid JSON: " + e.what());
  }
  data::ChatOptions options;
  options.add_generation_prompt = args.add_generation_prompt;
  json messages = input;
  if (input.is_object()) {
    if (!input.contains("messages")) throw InputError(args.messages + ": expected a message array or an object with \"messages\"");
    messages = input["messages"];
    for (auto it = input.begin(); it != input.end(); ++it)
      if (it.key() != "messages") options.extra[it.key()] = it.value();
  }
  if (!args.vars.empty()) {
    try {
      for (auto& [key, value] : json::parse(args.vars).items()) options.extra[key] = value;
    } catch (const json::exception& e) {
      throw InputError(std::string("--vars: expected a JSON object: ") + e.what());
    }
  }

  if (!args.mask) {
    std::cout << chat_template.render(messages, options);
    return;
  }
  data::ChatMasker masker(chat_template, *tokenizer);
  data::MaskedChat masked = masker.build(messages, args.last_turn ? data::MaskMode::LastTurn : data::MaskMode::Assistant, options);
  // Trained tokens are shown between ⟦ and ⟧, decoded run by run.
  size_t trained = 0;
  for (size_t t = 0; t < masked.ids.size();) {
    size_t run = t;
    while (run < masked.ids.size() && masked.trained[run] == masked.trained[t]) ++run;
    std::string text = tokenizer->decode(std::span<const data::TokenId>(masked.ids.data() + t, run - t));
    if (masked.trained[t]) {
      std::cout << "⟦" << text << "⟧";
      trained += run - t;
    } else {
      std::cout << text;
    }
    t = run;
  }
  std::cout << "\n-- " << masked.ids.size() << " tokens, " << trained << " trained\n";
}

const RegisterVerb template_verb(70, [](CLI::App& app) {
  auto args = std::make_shared<TemplateArgs>();
  auto* cmd = app.add_subcommand("template", "Render a conversation with a model's chat template (--mask: show trained tokens)");
  cmd->add_option("--model", args->model, "HF folder, tokenizer.json, .model or .gguf")->required();
  cmd->add_option("--messages", args->messages, "JSON file: a message array, or {\"messages\": [...], \"tools\": ...}")->required();
  cmd->add_flag("--add-generation-prompt", args->add_generation_prompt, "End with the assistant header");
  cmd->add_flag("--mask", args->mask, "Tokenize and mark the trained (assistant) tokens with ⟦ ⟧");
  cmd->add_flag("--last-turn", args->last_turn, "With --mask: train only the last assistant turn");
  cmd->add_option("--template", args->template_file, "A .jinja file to use instead of the model's template");
  cmd->add_option("--vars", args->vars, "Extra template variables as a JSON object, e.g. '{\"enable_thinking\": false}'");
  cmd->callback([args] { run_template(*args); });
});

}  // namespace
}  // namespace tailor::cli
