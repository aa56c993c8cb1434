#include "tools/ops/subcommand.h"

#include <algorithm>

namespace tailor::ops {
namespace {

std::vector<Subcommand>& Registry() {
  static auto* const registry = new std::vector<Subcommand>();
  return *registry;
}

}  // namespace

bool RegisterSubcommand(const Subcommand& subcommand) {
  Registry().push_back(subcommand);
  return true;
}

std::vector<Subcommand> Subcommands() {
  std::vector<Subcommand> all = Registry();
  std::sort(
      all.begin(), all.end(),
      [](const Subcommand& a, const Subcommand& b) { return a.name < b.name; });
  return all;
}

}  // namespace tailor::ops
