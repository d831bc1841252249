// An Ollama Modelfile beside a GGUF: FROM the file, the chat template translated to Ollama's Go template
// syntax for the known template families (ChatML, Llama 3, Gemma, Phi-3, Mistral [INST]), a PARAMETER
// stop for every end-of-turn token, and default sampling parameters.
//
// Ollama executes a TEMPLATE with .System (all system messages joined) and .Messages (every message,
// system ones included, in order; ollama template/template.go), so the templates here print system
// text once, where the Jinja template does, and leave the BOS token to the tokenizer (add_bos).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace tailor::exporting {

struct OllamaTemplate {
  std::string family;                 // "chatml", "llama3", ...
  std::string go_template;            // Ollama TEMPLATE body
  std::vector<std::string> stops;     // end-of-turn strings
};

// Recognizes the Jinja template's family (and the variant details it renders: a default system
// message, Llama 3.1's knowledge-date header, Gemma 3's system prefix, Mistral's spacing); `eos` is the
// tokenizer's EOS text, which [INST] templates print after an answer. InputError naming the families
// tailor knows otherwise.
OllamaTemplate translate_chat_template(const std::string& jinja, const std::string& eos);

// Writes `folder`/Modelfile for `gguf_name` (a file in `folder`), using `base`'s tokenizer.
void write_modelfile(const std::filesystem::path& base, const std::filesystem::path& folder, const std::string& gguf_name);

}  // namespace tailor::exporting
