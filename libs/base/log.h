// File: log.h
// Process-wide logging through spdlog. Services call InitLogging() once in
// main(); libraries log with spdlog::info/warn/error directly.
#ifndef TAILOR_LIBS_BASE_LOG_H_
#define TAILOR_LIBS_BASE_LOG_H_

#include <spdlog/spdlog.h>

#include "absl/strings/string_view.h"

namespace tailor {

// Sets the default logger to stderr with the given level ("debug", "info",
// "warn", "error") and a compact pattern with UTC timestamps.
void InitLogging(absl::string_view program, absl::string_view level);

}  // namespace tailor

#endif  // TAILOR_LIBS_BASE_LOG_H_
