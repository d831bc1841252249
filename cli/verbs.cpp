#include "cli/verbs.h"

#include <algorithm>
#include <utility>
#include <vector>

namespace tailor::cli {
namespace {

std::vector<std::pair<int, std::function<void(CLI::App&)>>>& registry() {
  static std::vector<std::pair<int, std::function<void(CLI::App&)>>> verbs;
  return verbs;
}

}  // namespace

RegisterVerb::RegisterVerb(int order, std::function<void(CLI::App&)> add) {
  registry().emplace_back(order, std::move(add));
}

void add_all_verbs(CLI::App& app) {
  auto& verbs = registry();
  std::stable_sort(verbs.begin(), verbs.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [order, add] : verbs) add(app);
}

}  // namespace tailor::cli
