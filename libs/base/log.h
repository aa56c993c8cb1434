// File: log.h
// Process-wide logging through spdlog. Services call InitLogging() once in
// main(); libraries log with spdlog::info/warn/error directly.
#ifndef TAILOR_LIBS_BASE_LOG_H_
#define TAILOR_LIBS_BASE_LOG_H_

#include <spdlog/spdlog.h>

#include "absl/strings/string_view.h"

// Lets spdlog format absl::string_view (a distinct type in this Abseil).
template <>
struct fmt::formatter<absl::string_view> : fmt::formatter<fmt::string_view> {
  template <typename FormatContext>
  auto format(absl::string_view s, FormatContext& ctx) const {
    return fmt::formatter<fmt::string_view>::format(
        fmt::string_view(s.data(), s.size()), ctx);
  }
};

namespace tailor {

// Sets the default logger to stderr with the given level ("debug", "info",
// "warn", "error") and a compact pattern with UTC timestamps.
void InitLogging(absl::string_view program, absl::string_view level);

}  // namespace tailor

#endif  // TAILOR_LIBS_BASE_LOG_H_
