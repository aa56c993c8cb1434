// File: bootstrap_file.h
// The bootstrap file devbroker writes ("bootstrap.servers=HOST:PORT[,...]"),
// read by the programs that connect to it (personalizer, tailor-ops).
#ifndef TAILOR_LIBS_CONFIG_BOOTSTRAP_FILE_H_
#define TAILOR_LIBS_CONFIG_BOOTSTRAP_FILE_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace tailor::config {

// Waits up to `timeout` for `path` to hold a "bootstrap.servers=..." line
// and returns its value. The error names the field `bootstrap_file`.
absl::StatusOr<std::string> ReadBootstrapFile(
    const std::string& path, absl::Duration timeout = absl::Seconds(30));

}  // namespace tailor::config

#endif  // TAILOR_LIBS_CONFIG_BOOTSTRAP_FILE_H_
