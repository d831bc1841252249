// tailor: fine-tune open LLMs (LoRA / QLoRA) and export them. Exit codes: 0 ok, 2 bad input, 1 internal.
#include <CLI/CLI.hpp>
#include <c10/util/Exception.h>

#include <iostream>
#include <string>

#include "cli/verbs.h"
#include "core/error.h"

namespace {

std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

bool is_verb(CLI::App& app, const std::string& name) {
  for (const CLI::App* verb : app.get_subcommands([](CLI::App*) { return true; }))
    if (verb->check_name(name)) return true;
  return false;
}

int fail(int code, const std::string& message) {
  std::cerr << "tailor: " << (code == 2 ? "error: " : "internal error: ") << first_line(message) << "\n";
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"tailor: fine-tune open LLMs with LoRA / QLoRA and export them to the runtimes you use."};
  app.require_subcommand(1);
  app.fallthrough(false);
  tailor::cli::add_all_verbs(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);  // --help
  } catch (const CLI::ParseError& e) {
    if (argc > 1 && argv[1][0] != '-' && !is_verb(app, argv[1]))
      return fail(2, std::string("unknown verb '") + argv[1] + "' (run 'tailor --help' for the list)");
    return fail(2, e.what());
  } catch (const tailor::InputError& e) {
    std::cerr << "tailor: error: " << e.what() << "\n";  // ours: may list several problems, one per line
    return 2;
  } catch (const c10::Error& e) {
    return fail(1, e.what_without_backtrace());
  } catch (const std::exception& e) {
    return fail(1, e.what());
  }
  return 0;
}
