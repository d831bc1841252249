// Test driver: the token ids tailor's eval and generate feed the model for a text (BOS first when
// the tokenizer asks for it), as JSON, so a script can hand the same ids to a reference runtime.
//   text_probe MODEL_OR_TOKENIZER_PATH TEXT_FILE
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "data/tokenizer.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: text_probe MODEL_OR_TOKENIZER_PATH TEXT_FILE\n";
    return 2;
  }
  try {
    auto tokenizer = tailor::data::Tokenizer::load(argv[1]);
    std::ifstream in(argv[2], std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    std::vector<int64_t> ids;
    const auto& special = tokenizer->special_tokens();
    if (special.add_bos && special.bos) ids.push_back(*special.bos);
    for (auto id : tokenizer->encode(text.str())) ids.push_back(id);
    std::vector<int64_t> eos(special.eos_ids.begin(), special.eos_ids.end());
    std::cout << nlohmann::json{{"ids", ids}, {"eos_ids", eos}}.dump() << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 2;
  }
}
