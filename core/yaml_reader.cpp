#include "core/yaml_reader.h"

#include <algorithm>

#include "core/error.h"
#include "core/suggest.h"

namespace tailor {

YamlReader::YamlReader(YAML::Node node, std::string path, std::vector<std::string>& errors)
    : node_(std::move(node)), path_(std::move(path)), errors_(errors) {
  if (node_ && !node_.IsNull() && !node_.IsMap()) {
    errors_.push_back(path_ + ": expected a mapping of keys to values");
    node_ = YAML::Node(YAML::NodeType::Map);
  }
}

bool YamlReader::read_choice(const std::string& key, std::string& out, const std::vector<std::string>& choices) {
  if (!read(key, out)) return false;
  if (std::find(choices.begin(), choices.end(), out) != choices.end()) return true;
  std::string list;
  for (const auto& c : choices) list += (list.empty() ? "" : " | ") + c;
  std::string message = "'" + out + "' is not one of " + list;
  if (auto near = nearest_word(out, choices); !near.empty()) message += " (did you mean '" + near + "'?)";
  error(key, message);
  return false;
}

YAML::Node YamlReader::section(const std::string& key) {
  known_.push_back(key);
  YAML::Node value = node_[key];
  if (value && !value.IsNull() && !value.IsMap()) {
    error(key, "expected a mapping");
    return YAML::Node(YAML::NodeType::Map);
  }
  return value ? value : YAML::Node(YAML::NodeType::Map);
}

void YamlReader::error(const std::string& key, const std::string& message) {
  errors_.push_back(path_ + "." + key + ": " + message);
}

void YamlReader::finish() {
  if (!node_ || !node_.IsMap()) return;
  for (const auto& entry : node_) {
    auto key = entry.first.as<std::string>();
    if (std::find(known_.begin(), known_.end(), key) == known_.end())
      errors_.push_back(path_ + ": " + unknown_key_message(key, known_));
  }
}

void apply_override(YAML::Node& root, const std::string& assignment) {
  auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    throw InputError("override '" + assignment + "': expected key=value (e.g. lora.r=8)");
  std::string path = assignment.substr(0, eq), text = assignment.substr(eq + 1);
  YAML::Node value;
  try {
    value = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw InputError("override '" + assignment + "': value is not valid YAML: " + e.msg);
  }
  std::vector<std::string> keys;
  for (size_t start = 0;;) {
    size_t dot = path.find('.', start);
    keys.push_back(path.substr(start, dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  // yaml-cpp nodes are handles: walk with fresh handles so assignment rebinds the child, not the parent.
  std::vector<YAML::Node> chain{root};
  for (size_t i = 0; i + 1 < keys.size(); ++i) {
    if (keys[i].empty()) throw InputError("override '" + assignment + "': empty key in '" + path + "'");
    YAML::Node child = chain.back()[keys[i]];
    if (!child.IsMap()) {
      if (child.IsDefined() && !child.IsNull())
        throw InputError("override '" + assignment + "': '" + keys[i] + "' is not a section");
      chain.back()[keys[i]] = YAML::Node(YAML::NodeType::Map);
      child = chain.back()[keys[i]];
    }
    chain.push_back(child);
  }
  chain.back()[keys.back()] = value;
}

}  // namespace tailor
