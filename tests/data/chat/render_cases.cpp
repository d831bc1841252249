// Test helper for the Python parity tests: renders a batch of chat-template cases with tailor's engine.
// Input (argv[1]): a JSON array of {"template", "messages", "add_generation_prompt", "extra", "bos_token",
// "eos_token"}, optionally with "tokenizer" (a path; its template is used when "template" is absent) and
// "mask" ("assistant", "last", "all"). Output (stdout): a JSON array of {"text", "generation_spans",
// "data_spans"} plus {"ids", "trained", "trained_spans"} for masked cases, or {"error"}.
#include <fstream>
#include <iostream>
#include <sstream>

#include "core/error.h"
#include "data/chat_mask.h"
#include "data/chat_template.h"
#include "data/tokenizer.h"

#include <map>
#include <memory>

using json = nlohmann::ordered_json;

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: render_cases CASES.json\n";
    return 2;
  }
  std::ifstream in(argv[1]);
  json cases = json::parse(in);
  json results = json::array();
  std::map<std::string, std::unique_ptr<tailor::data::Tokenizer>> tokenizers;
  for (const json& c : cases) {
    json result = json::object();
    try {
      tailor::data::ChatOptions options;
      options.add_generation_prompt = c.value("add_generation_prompt", false);
      if (c.contains("extra")) options.extra = c["extra"];
      if (c.contains("tokenizer")) {
        auto& tokenizer = tokenizers[c["tokenizer"].get<std::string>()];
        if (!tokenizer) tokenizer = tailor::data::Tokenizer::load(c["tokenizer"].get<std::string>());
        auto tmpl = tailor::data::ChatTemplate::for_tokenizer(*tokenizer, c.value("template", ""));
        std::string mode = c.value("mask", "assistant");
        tailor::data::ChatMasker masker(tmpl, *tokenizer);
        auto masked = masker.build(c.at("messages"), mode == "all"    ? tailor::data::MaskMode::All
                                                     : mode == "last" ? tailor::data::MaskMode::LastTurn
                                                                      : tailor::data::MaskMode::Assistant,
                                   options);
        result["text"] = masked.text;
        result["ids"] = masked.ids;
        result["trained"] = masked.trained;
        result["trained_spans"] = masked.trained_spans;
        results.push_back(std::move(result));
        continue;
      }
      tailor::data::TemplateTokens tokens;
      tokens.bos_token = c.value("bos_token", "");
      tokens.eos_token = c.value("eos_token", "");
      tailor::data::ChatTemplate tmpl(c.at("template").get<std::string>(), tokens);
      auto rendered = tmpl.render_tracked(c.at("messages"), options);
      result["text"] = rendered.text;
      result["generation_spans"] = json::array();
      for (auto [b, e] : rendered.generation_spans) result["generation_spans"].push_back({b, e});
      result["data_spans"] = json::array();
      for (const auto& span : rendered.data_spans) result["data_spans"].push_back({span.begin, span.end, span.label});
    } catch (const tailor::InputError& e) {
      result["error"] = e.what();
    }
    results.push_back(std::move(result));
  }
  std::cout << results.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
  return 0;
}
