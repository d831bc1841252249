// An Ollama Modelfile beside a GGUF: FROM the file, the chat template translated to Ollama's Go template
// syntax for the known template families (ChatML, Llama 3, Gemma, Mistral [INST], Phi-3), a PARAMETER
// stop for every end-of-turn token, and default sampling parameters.
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

// Recognizes the Jinja template's family; InputError naming the families tailor knows otherwise.
OllamaTemplate translate_chat_template(const std::string& jinja);

// Writes `folder`/Modelfile for `gguf_name` (a file in `folder`), using `base`'s tokenizer.
void write_modelfile(const std::filesystem::path& base, const std::filesystem::path& folder, const std::string& gguf_name);

}  // namespace tailor::exporting
