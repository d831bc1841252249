// Reads one YAML mapping against the keys a section knows: typed values, every problem collected
// (wrong type, value not among the choices, unknown key with a "did you mean" suggestion) so a recipe
// reports all its errors at once.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

namespace tailor {

class YamlReader {
 public:
  // path: where this mapping sits, e.g. "recipe.yaml: lora" (prefixes every message).
  YamlReader(YAML::Node node, std::string path, std::vector<std::string>& errors);

  // Reads `key` into `out` when present; a wrong type is recorded. Returns whether the key was present.
  template <class T>
  bool read(const std::string& key, T& out);
  // As read(), then checks the value is one of `choices`.
  bool read_choice(const std::string& key, std::string& out, const std::vector<std::string>& choices);
  // A sub-mapping (recorded as known). Absent → an empty node.
  YAML::Node section(const std::string& key);
  // Records a known key whose value the caller handles itself (e.g. a section parsed elsewhere).
  void accept(const std::string& key) { known_.push_back(key); }
  void error(const std::string& key, const std::string& message);

  // Records every key that was not read as unknown. Call after the last read.
  void finish();

 private:
  YAML::Node node_;
  std::string path_;
  std::vector<std::string>& errors_;
  std::vector<std::string> known_;
};

// Sets `dotted.key.path` to `value` (parsed as YAML, so numbers and lists keep their types), creating
// mappings on the way: how `tailor run RECIPE lora.r=8` overrides a recipe.
void apply_override(YAML::Node& root, const std::string& assignment);

}  // namespace tailor

#include "core/yaml_reader_impl.h"
