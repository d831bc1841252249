#include "data/pipeline/data_config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "core/error.h"
#include "core/suggest.h"

namespace tailor::data {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string> kDataKeys = {"sources", "max_seq_len", "packing", "length_policy", "mask",
                                            "val_ratio", "seed", "skip_bad", "dedupe", "cache_dir",
                                            "threads", "tokenizer", "chat_template"};
const std::vector<std::string> kSourceKeys = {"path", "format", "weight", "split", "columns", "separator"};

constexpr size_t kMaxSeqLenLimit = size_t{1} << 20;

// Collects every problem so a user fixes a recipe in one pass.
class Problems {
 public:
  explicit Problems(std::string context) : context_(std::move(context)) {}
  void add(const std::string& key, const YAML::Node& node, const std::string& what) {
    std::string where = key;
    if (node.IsDefined() && node.Mark().line >= 0) where += " (line " + std::to_string(node.Mark().line + 1) + ")";
    list_.push_back(where + ": " + what);
  }
  void throw_if_any() const {
    if (list_.empty()) return;
    std::string message = context_ + ": ";
    if (list_.size() > 1) message += std::to_string(list_.size()) + " problems: ";
    for (size_t i = 0; i < list_.size(); ++i) message += (i ? "; " : "") + list_[i];
    throw InputError(message);
  }

 private:
  std::string context_;
  std::vector<std::string> list_;
};

void check_keys(const YAML::Node& map, const std::vector<std::string>& valid, const std::string& prefix,
                Problems& problems) {
  for (const auto& entry : map) {
    std::string key = entry.first.Scalar();
    if (std::find(valid.begin(), valid.end(), key) != valid.end()) continue;
    std::string near = nearest_word(key, valid);
    problems.add(prefix + key, entry.first, near.empty() ? "unknown key" : "unknown key (did you mean '" + near + "'?)");
  }
}

template <typename T>
std::optional<T> scalar(const YAML::Node& node, const std::string& key, const char* expected, Problems& problems) {
  try {
    if (!node.IsScalar()) throw YAML::Exception(node.Mark(), "not a scalar");
    return node.as<T>();
  } catch (const YAML::Exception&) {
    problems.add(key, node, std::string("expected ") + expected);
    return std::nullopt;
  }
}

template <typename Enum>
std::optional<Enum> choice(const YAML::Node& node, const std::string& key,
                           const std::vector<std::pair<std::string, Enum>>& options, Problems& problems) {
  std::string names;
  for (const auto& [name, value] : options) names += (names.empty() ? "" : " | ") + name;
  if (node.IsScalar())
    for (const auto& [name, value] : options)
      if (node.Scalar() == name) return value;
  problems.add(key, node, "expected one of " + names);
  return std::nullopt;
}

fs::path resolve(const fs::path& base_dir, const std::string& value) {
  fs::path p(value);
  return p.is_absolute() ? p : (base_dir / p).lexically_normal();
}

SourceConfig parse_source(const YAML::Node& node, const std::string& prefix, const fs::path& base_dir,
                          Problems& problems) {
  SourceConfig source;
  if (!node.IsMap()) {
    problems.add(prefix, node, "expected a map with at least 'path'");
    return source;
  }
  check_keys(node, kSourceKeys, prefix + ".", problems);
  if (!node["path"]) problems.add(prefix + ".path", node, "missing (the dataset file)");
  else if (auto path = scalar<std::string>(node["path"], prefix + ".path", "a file path", problems)) {
    source.path = resolve(base_dir, *path);
    if (!fs::is_regular_file(source.path))
      problems.add(prefix + ".path", node["path"], "no such file: " + source.path.string());
  }
  if (node["format"])
    if (auto f = choice<SourceFormat>(node["format"], prefix + ".format",
                                      {{"auto", SourceFormat::Auto}, {"messages", SourceFormat::Messages},
                                       {"openai", SourceFormat::Messages}, {"sharegpt", SourceFormat::ShareGpt},
                                       {"alpaca", SourceFormat::Alpaca}, {"completion", SourceFormat::Completion},
                                       {"text", SourceFormat::Text}},
                                      problems))
      source.format = *f;
  if (node["weight"])
    if (auto w = scalar<double>(node["weight"], prefix + ".weight", "a number > 0", problems)) {
      if (!(*w > 0) || !std::isfinite(*w)) problems.add(prefix + ".weight", node["weight"], "expected a number > 0");
      else source.weight = *w, source.weight_given = true;
    }
  if (node["split"])
    if (auto s = choice<SplitRole>(node["split"], prefix + ".split", {{"train", SplitRole::Train}, {"val", SplitRole::Val}},
                                   problems))
      source.split = *s;
  if (node["separator"])
    if (auto s = scalar<std::string>(node["separator"], prefix + ".separator", "a string", problems)) source.separator = *s;
  if (const YAML::Node& columns = node["columns"]) {
    if (!columns.IsMap()) {
      problems.add(prefix + ".columns", columns, "expected a map of canonical field → file field");
    } else {
      check_keys(columns, column_names(), prefix + ".columns.", problems);
      for (const auto& entry : columns)
        if (auto v = scalar<std::string>(entry.second, prefix + ".columns." + entry.first.Scalar(), "a field name", problems))
          source.columns[entry.first.Scalar()] = *v;
    }
  }
  return source;
}

}  // namespace

const char* mask_name(MaskMode mode) {
  switch (mode) {
    case MaskMode::Assistant: return "assistant";
    case MaskMode::All: return "all";
    case MaskMode::LastTurn: return "last_turn";
  }
  return "?";
}

const char* length_policy_name(LengthPolicy policy) {
  switch (policy) {
    case LengthPolicy::Truncate: return "truncate";
    case LengthPolicy::Drop: return "drop";
    case LengthPolicy::Split: return "split";
  }
  return "?";
}

std::string DataConfig::canonical() const {
  std::ostringstream out;
  out.precision(17);
  out << "max_seq_len=" << max_seq_len << "\npacking=" << packing << "\nlength_policy=" << length_policy_name(length_policy)
      << "\nmask=" << mask_name(mask) << "\nval_ratio=" << val_ratio << "\nseed=" << seed << "\nskip_bad=" << skip_bad
      << "\ndedupe=" << dedupe << "\ntokenizer=" << (tokenizer ? tokenizer->string() : "")
      << "\nchat_template=" << (chat_template ? chat_template->string() : "") << "\n";
  for (const auto& s : sources) {
    out << "source path=" << s.path.string() << " format=" << format_name(s.format) << " weight=" << (s.weight_given ? s.weight : -1.0)
        << " split=" << (s.split == SplitRole::Val ? "val" : "train") << " separator=" << s.separator.size() << ":"
        << s.separator;
    for (const auto& [k, v] : s.columns) out << " column " << k << "=" << v;
    out << "\n";
  }
  return out.str();
}

DataConfig parse_data_config(const YAML::Node& data, const fs::path& base_dir, const std::string& context) {
  Problems problems(context);
  DataConfig config;
  config.cache_dir = base_dir / ".cache" / "data";
  if (!data || !data.IsMap()) {
    problems.add("data", data, "expected a map with at least 'sources'");
    problems.throw_if_any();
  }
  check_keys(data, kDataKeys, "data.", problems);

  const YAML::Node& sources = data["sources"];
  if (!sources) problems.add("data.sources", data, "missing (a list of {path, format, weight, ...})");
  else if (!sources.IsSequence() || sources.size() == 0) problems.add("data.sources", sources, "expected a non-empty list");
  else
    for (size_t i = 0; i < sources.size(); ++i)
      config.sources.push_back(parse_source(sources[i], "data.sources[" + std::to_string(i) + "]", base_dir, problems));

  if (data["max_seq_len"])
    if (auto v = scalar<int64_t>(data["max_seq_len"], "data.max_seq_len", "an integer", problems)) {
      if (*v < 2 || static_cast<size_t>(*v) > kMaxSeqLenLimit)
        problems.add("data.max_seq_len", data["max_seq_len"], "expected 2 to " + std::to_string(kMaxSeqLenLimit));
      else config.max_seq_len = static_cast<size_t>(*v);
    }
  if (data["packing"])
    if (auto v = scalar<bool>(data["packing"], "data.packing", "true or false", problems)) config.packing = *v;
  if (data["length_policy"])
    if (auto v = choice<LengthPolicy>(data["length_policy"], "data.length_policy",
                                      {{"truncate", LengthPolicy::Truncate}, {"drop", LengthPolicy::Drop}, {"split", LengthPolicy::Split}},
                                      problems))
      config.length_policy = *v;
  if (data["mask"])
    if (auto v = choice<MaskMode>(data["mask"], "data.mask",
                                  {{"assistant", MaskMode::Assistant}, {"all", MaskMode::All}, {"last_turn", MaskMode::LastTurn}},
                                  problems))
      config.mask = *v;
  if (data["val_ratio"])
    if (auto v = scalar<double>(data["val_ratio"], "data.val_ratio", "a number in [0, 1)", problems)) {
      if (!(*v >= 0 && *v < 1)) problems.add("data.val_ratio", data["val_ratio"], "expected a number in [0, 1)");
      else config.val_ratio = *v;
    }
  if (data["seed"])
    if (auto v = scalar<uint64_t>(data["seed"], "data.seed", "a non-negative integer", problems)) config.seed = *v;
  if (data["skip_bad"])
    if (auto v = scalar<bool>(data["skip_bad"], "data.skip_bad", "true or false", problems)) config.skip_bad = *v;
  if (data["dedupe"])
    if (auto v = scalar<bool>(data["dedupe"], "data.dedupe", "true or false", problems)) config.dedupe = *v;
  if (data["cache_dir"])
    if (auto v = scalar<std::string>(data["cache_dir"], "data.cache_dir", "a folder path", problems))
      config.cache_dir = resolve(base_dir, *v);
  if (data["threads"])
    if (auto v = scalar<int>(data["threads"], "data.threads", "an integer >= 0", problems)) {
      if (*v < 0 || *v > 1024) problems.add("data.threads", data["threads"], "expected 0 (all cores) to 1024");
      else config.threads = *v;
    }
  if (data["tokenizer"])
    if (auto v = scalar<std::string>(data["tokenizer"], "data.tokenizer", "a path", problems))
      config.tokenizer = resolve(base_dir, *v);
  if (data["chat_template"])
    if (auto v = scalar<std::string>(data["chat_template"], "data.chat_template", "a .jinja file path", problems)) {
      config.chat_template = resolve(base_dir, *v);
      if (!fs::is_regular_file(*config.chat_template))
        problems.add("data.chat_template", data["chat_template"], "no such file: " + config.chat_template->string());
    }

  for (const auto& s : config.sources)
    if (s.format != SourceFormat::Text && s.format != SourceFormat::Auto && config.length_policy == LengthPolicy::Split)
      problems.add("data.length_policy", data["length_policy"],
                   std::string("'split' applies to text only, but a source has format '") + format_name(s.format) + "'");
  bool any_train = std::any_of(config.sources.begin(), config.sources.end(),
                               [](const SourceConfig& s) { return s.split == SplitRole::Train; });
  if (!config.sources.empty() && !any_train) problems.add("data.sources", sources, "no source has split: train");
  problems.throw_if_any();
  return config;
}

DataConfig load_data_config(const fs::path& recipe) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(recipe.string());
  } catch (const YAML::BadFile&) {
    throw InputError(recipe.string() + ": cannot read the recipe");
  } catch (const YAML::Exception& e) {
    throw InputError(recipe.string() + ": line " + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  if (!root.IsMap() || !root["data"]) throw InputError(recipe.string() + ": no 'data:' section");
  fs::path base_dir = fs::absolute(recipe).parent_path();
  DataConfig config = parse_data_config(root["data"], base_dir, recipe.string());
  if (!config.tokenizer) {
    // Default tokenizer: the recipe's model (a path, or a map with 'path').
    const YAML::Node& model = root["model"];
    if (model && model.IsScalar()) config.tokenizer = resolve(base_dir, model.Scalar());
    else if (model && model.IsMap() && model["path"] && model["path"].IsScalar())
      config.tokenizer = resolve(base_dir, model["path"].Scalar());
  }
  return config;
}

}  // namespace tailor::data
