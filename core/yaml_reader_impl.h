// Template part of yaml_reader.h.
#pragma once

#include <type_traits>

namespace tailor {

namespace yaml_detail {
template <class T>
const char* type_name() {
  if constexpr (std::is_same_v<T, bool>) return "true or false";
  else if constexpr (std::is_integral_v<T>) return "an integer";
  else if constexpr (std::is_floating_point_v<T>) return "a number";
  else if constexpr (std::is_same_v<T, std::string>) return "a string";
  else return "a list";
}
}  // namespace yaml_detail

template <class T>
bool YamlReader::read(const std::string& key, T& out) {
  known_.push_back(key);
  YAML::Node value = node_[key];
  if (!value || value.IsNull()) return false;
  constexpr bool is_list = std::is_same_v<T, std::vector<std::string>>;
  if (!value.IsScalar() && !(is_list && value.IsSequence())) {  // a list also accepts one bare value
    error(key, std::string("expected ") + yaml_detail::type_name<T>());
    return false;
  }
  try {
    if constexpr (is_list) {
      out = value.IsScalar() ? std::vector<std::string>{value.as<std::string>()} : value.as<std::vector<std::string>>();
    } else {
      out = value.as<T>();
    }
  } catch (const YAML::Exception&) {
    error(key, std::string("expected ") + yaml_detail::type_name<T>() + ", got '" +
                   (value.IsScalar() ? value.Scalar() : std::string("a mapping or list")) + "'");
    return false;
  }
  return true;
}

}  // namespace tailor
