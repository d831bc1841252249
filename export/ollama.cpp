#include "export/ollama.h"

#include <algorithm>
#include <regex>

#include "core/atomic_file.h"
#include "core/error.h"
#include "data/tokenizer.h"

namespace tailor::exporting {

namespace {

bool has(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

// The first capture of `pattern` in the Jinja source with its \n escapes decoded, or "".
std::string literal(const std::string& jinja, const std::regex& pattern) {
  std::smatch m;
  if (!std::regex_search(jinja, m, pattern)) return "";
  return std::regex_replace(m[1].str(), std::regex(R"(\\n)"), "\n");
}

// Messages other than system ones (Ollama passes those in .System as well as in .Messages).
constexpr const char* kEachTurn = "{{ range $i, $m := .Messages }}{{ if ne $m.Role \"system\" }}";
constexpr const char* kEnd = "{{ end }}{{ end }}";

OllamaTemplate chatml(const std::string& jinja) {
  // A system message printed when the conversation has none: SmolLM2, Qwen2.5
  // (the newline in the Jinja string literal is either an escape or a real line break).
  static const std::regex default_system(R"(<\|im_start\|>system(?:\\n|\n)([^'"{}+]+?)<\|im_end\|>)");
  const std::string fallback = literal(jinja, default_system);
  std::string t = "{{ if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n";
  if (!fallback.empty()) t += "{{ else }}<|im_start|>system\n" + fallback + "<|im_end|>\n";
  t += "{{ end }}";
  t += std::string(kEachTurn) + "<|im_start|>{{ $m.Role }}\n{{ $m.Content }}<|im_end|>\n" + kEnd;
  t += "<|im_start|>assistant\n";
  return {"chatml", t, {"<|im_end|>", "<|im_start|>"}};
}

OllamaTemplate llama3(const std::string& jinja) {
  std::string t;
  static const std::regex knowledge(R"((Cutting Knowledge Date: [^\\"']*)\\n)");
  static const std::regex date(R"(date_string\s*=\s*["']([^"']+)["'])");
  const std::string header = literal(jinja, knowledge);
  if (!header.empty()) {  // Llama 3.1+: the system turn is always there, with the knowledge and today dates
    t = "<|start_header_id|>system<|end_header_id|>\n\n" + header + "\nToday Date: " + literal(jinja, date) +
        "\n\n{{ .System }}<|eot_id|>";
  } else {
    t = "{{ if .System }}<|start_header_id|>system<|end_header_id|>\n\n{{ .System }}<|eot_id|>{{ end }}";
  }
  t += std::string(kEachTurn) + "<|start_header_id|>{{ $m.Role }}<|end_header_id|>\n\n{{ $m.Content }}<|eot_id|>" + kEnd;
  t += "<|start_header_id|>assistant<|end_header_id|>\n\n";
  return {"llama3", t, {"<|eot_id|>", "<|start_header_id|>", "<|end_header_id|>"}};
}

OllamaTemplate gemma(const std::string& jinja) {
  // Gemma 3 puts the system text before the first user message; Gemma 1/2 refuse a system message.
  const bool system_prefix = has(jinja, "first_user_prefix");
  std::string t = std::string(kEachTurn) + "<start_of_turn>{{ if eq $m.Role \"assistant\" }}model{{ else }}{{ $m.Role }}{{ end }}\n";
  if (system_prefix) t += "{{ if and $.System (eq $i 1) }}{{ $.System }}\n\n{{ end }}";
  t += "{{ $m.Content }}<end_of_turn>\n" + std::string(kEnd) + "<start_of_turn>model\n";
  return {"gemma", t, {"<end_of_turn>", "<start_of_turn>"}};
}

OllamaTemplate phi3() {
  // Phi-3 prints system messages in place, like any other turn.
  return {"phi3", "{{ range .Messages }}<|{{ .Role }}|>\n{{ .Content }}<|end|>\n{{ end }}<|assistant|>\n",
          {"<|end|>", "<|user|>", "<|assistant|>"}};
}

OllamaTemplate mistral(const std::string& jinja, const std::string& eos) {
  std::string t = kEachTurn;
  if (has(jinja, "system_message")) {  // v0.3: "[INST] x[/INST]", the system text on the last user turn
    t += "{{ if eq $m.Role \"user\" }}[INST] {{ if and $.System (eq (len (slice $.Messages $i)) 1) }}{{ $.System }}\n\n{{ end }}"
         "{{ $m.Content }}[/INST]{{ else }} {{ $m.Content }}" + eos + "{{ end }}";
  } else {  // v0.1: "[INST] x [/INST]", answers follow directly
    t += "{{ if eq $m.Role \"user\" }}[INST] {{ $m.Content }} [/INST]{{ else }}{{ $m.Content }}" + eos + "{{ end }}";
  }
  t += kEnd;
  return {"mistral", t, {"[INST]", "[/INST]", eos}};
}

}  // namespace

OllamaTemplate translate_chat_template(const std::string& jinja, const std::string& eos) {
  if (has(jinja, "<|im_start|>")) return chatml(jinja);
  if (has(jinja, "<|start_header_id|>")) return llama3(jinja);
  if (has(jinja, "<start_of_turn>")) return gemma(jinja);
  if (has(jinja, "<|assistant|>") && has(jinja, "<|end|>")) return phi3();
  if (has(jinja, "[INST]")) return mistral(jinja, eos);
  throw InputError("Ollama export: the chat template is not one of the families tailor translates (ChatML, Llama 3, Gemma, Phi-3, Mistral [INST])");
}

void write_modelfile(const std::filesystem::path& base, const std::filesystem::path& folder, const std::string& gguf_name) {
  auto tokenizer = data::Tokenizer::load(base);
  if (tokenizer->chat_template().empty()) throw InputError(base.string() + ": no chat template to translate for Ollama");
  const auto& special = tokenizer->special_tokens();
  const std::string eos = special.eos ? tokenizer->id_to_token(*special.eos) : "</s>";
  OllamaTemplate t = translate_chat_template(tokenizer->chat_template(), eos);
  std::vector<std::string> stops = t.stops;
  for (auto id : special.eos_ids) {  // every end-of-turn token the tokenizer knows
    std::string text = tokenizer->id_to_token(id);
    if (std::find(stops.begin(), stops.end(), text) == stops.end()) stops.push_back(text);
  }
  std::string out = "# Generated by tailor export (" + t.family + " template). Create with: ollama create NAME -f Modelfile\n";
  out += "FROM ./" + gguf_name + "\n\n";
  out += "TEMPLATE \"\"\"" + t.go_template + "\"\"\"\n\n";
  for (const auto& s : stops) out += "PARAMETER stop \"" + s + "\"\n";
  out += "PARAMETER temperature 0.7\nPARAMETER top_p 0.9\nPARAMETER repeat_penalty 1.1\nPARAMETER num_ctx 4096\n";
  write_file_atomic(folder / "Modelfile", out);
}

}  // namespace tailor::exporting
