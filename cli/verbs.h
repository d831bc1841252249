// Verbs register themselves: each cli/<verb>.cpp holds one `const RegisterVerb` whose order places it in
// `tailor --help`. Adding a verb touches only its own file.
#pragma once

#include <functional>

namespace CLI {
class App;
}

namespace tailor::cli {

// Listing order in --help (gaps leave room): run 10, ls 20, cp 30, validate 40, data 50, tokenize 60,
// template 70, generate 80, chat 90, eval 100, export 110, vocab 120, bench 130, version 200.
struct RegisterVerb {
  RegisterVerb(int order, std::function<void(CLI::App&)> add);
};

// Adds every registered verb to the root command, in order.
void add_all_verbs(CLI::App& app);

}  // namespace tailor::cli
