// `tailor ls` lists the built-in recipes; `tailor cp NAME DEST` copies one out to edit.
#include <CLI/CLI.hpp>

#include <filesystem>
#include <iostream>

#include "cli/verbs.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "train/recipe.h"

namespace tailor::cli {
namespace {

namespace fs = std::filesystem;

void list_recipes() {
  size_t width = 0;
  for (const auto& r : train::builtin_recipes()) width = std::max(width, r.name.size());
  for (const auto& r : train::builtin_recipes())
    std::cout << r.name << std::string(width + 2 - r.name.size(), ' ') << r.description << "\n";
}

void copy_recipe(const std::string& name, fs::path dest, bool force) {
  const auto& all = train::builtin_recipes();
  auto it = std::find_if(all.begin(), all.end(), [&](const auto& r) { return r.name == name; });
  if (it == all.end()) throw InputError("no built-in recipe '" + name + "' (run 'tailor ls' for the list)");
  if (fs::is_directory(dest)) dest /= name + ".yaml";
  if (fs::exists(dest) && !force) throw InputError(dest.string() + " exists; pass --force to overwrite it");
  write_file_atomic(dest, it->yaml);
  std::cout << "wrote " << dest.string() << "\n  run it: tailor run " << dest.string() << "\n";
}

const RegisterVerb ls_verb(20, [](CLI::App& app) {
  app.add_subcommand("ls", "List the built-in recipes")->callback(list_recipes);
});

const RegisterVerb cp_verb(30, [](CLI::App& app) {
  auto* verb = app.add_subcommand("cp", "Copy a built-in recipe to a file you can edit");
  static std::string name, dest;
  static bool force = false;
  verb->add_option("name", name, "Built-in recipe (see 'tailor ls')")->required();
  verb->add_option("dest", dest, "Destination file or folder")->required();
  verb->add_flag("--force", force, "Overwrite an existing file");
  verb->callback([] { copy_recipe(name, dest, force); });
});

}  // namespace
}  // namespace tailor::cli
