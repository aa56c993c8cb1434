#include "libs/config/bootstrap_file.h"

#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"

namespace tailor::config {

absl::StatusOr<std::string> ReadBootstrapFile(const std::string& path,
                                              absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  do {
    std::ifstream in(path);
    std::string line;
    absl::string_view servers;
    if (in && std::getline(in, line) &&
        absl::ConsumePrefix(&(servers = line), "bootstrap.servers=") &&
        !servers.empty()) {
      return std::string(servers);
    }
    absl::SleepFor(absl::Milliseconds(100));
  } while (absl::Now() < deadline);
  return absl::DeadlineExceededError(
      absl::StrCat("bootstrap_file: no bootstrap.servers= line in ", path,
                   " after ", absl::FormatDuration(timeout)));
}

}  // namespace tailor::config
