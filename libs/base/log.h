// File: log.h
// Process-wide logging through spdlog. Programs call InitLogging() once in
// main() (InitProgram() in libs/base/cli.h does it); libraries log with
// spdlog::info/warn/error directly.
//
// Two formats: text (a compact line with a UTC timestamp) and json (one JSON
// object per line: time, level, logger, msg), for log pipelines. Log lines
// never carry customer ids: libraries log partitions, offsets and counts.
#ifndef TAILOR_LIBS_BASE_LOG_H_
#define TAILOR_LIBS_BASE_LOG_H_

#include <spdlog/spdlog.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
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

enum class LogFormat { kText, kJson };

// "debug", "info", "warn" (or "warning"), "error" or "off", in any case.
// Anything else is InvalidArgument listing the accepted names.
absl::StatusOr<spdlog::level::level_enum> ParseLogLevel(absl::string_view text);
// "text" or "json", in any case.
absl::StatusOr<LogFormat> ParseLogFormat(absl::string_view text);

// Appends `text` to `out` as the body of a JSON string (quotes, backslashes
// and control characters escaped; other bytes copied).
void AppendJsonEscaped(absl::string_view text, std::string* out);

// The formatter of `format` (text: "%Y-%m-%dT%H:%M:%S.%eZ L name: msg" in
// UTC; json: {"time":...,"level":...,"logger":...,"msg":...} per line).
std::unique_ptr<spdlog::formatter> MakeLogFormatter(LogFormat format);

// Sets the default logger: stderr, the given level and format.
void InitLogging(absl::string_view program, spdlog::level::level_enum level,
                 LogFormat format = LogFormat::kText);

}  // namespace tailor

#endif  // TAILOR_LIBS_BASE_LOG_H_
