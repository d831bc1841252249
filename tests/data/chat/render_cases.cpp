// Test helper for the Python parity tests: renders a batch of chat-template cases with tailor's engine.
// Input (argv[1]): a JSON array of {"template", "messages", "add_generation_prompt", "extra", "bos_token",
// "eos_token"}. Output (stdout): a JSON array of {"text", "generation_spans", "data_spans"} or {"error"}.
#include <fstream>
#include <iostream>
#include <sstream>

#include "core/error.h"
#include "data/chat_template.h"

using json = nlohmann::ordered_json;

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: render_cases CASES.json\n";
    return 2;
  }
  std::ifstream in(argv[1]);
  json cases = json::parse(in);
  json results = json::array();
  for (const json& c : cases) {
    json result = json::object();
    try {
      tailor::data::TemplateTokens tokens;
      tokens.bos_token = c.value("bos_token", "");
      tokens.eos_token = c.value("eos_token", "");
      tailor::data::ChatTemplate tmpl(c.at("template").get<std::string>(), tokens);
      tailor::data::ChatOptions options;
      options.add_generation_prompt = c.value("add_generation_prompt", false);
      if (c.contains("extra")) options.extra = c["extra"];
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
