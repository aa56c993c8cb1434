#include "libs/base/log.h"

#include <spdlog/formatter.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace tailor {
namespace {

// {"time":"2024-05-01T10:00:00.123Z","level":"info","logger":"personalizer",
//  "msg":"..."} and a newline.
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg,
              spdlog::memory_buf_t& dest) override {
    line_.clear();
    absl::StrAppend(
        &line_, "{\"time\":\"",
        absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::FromChrono(msg.time),
                         absl::UTCTimeZone()),
        "\",\"level\":\"");
    const auto level = spdlog::level::to_string_view(msg.level);
    line_.append(level.data(), level.size());
    line_.append("\",\"logger\":\"");
    AppendJsonEscaped(
        absl::string_view(msg.logger_name.data(), msg.logger_name.size()),
        &line_);
    line_.append("\",\"msg\":\"");
    AppendJsonEscaped(absl::string_view(msg.payload.data(), msg.payload.size()),
                      &line_);
    line_.append("\"}\n");
    dest.append(line_.data(), line_.data() + line_.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }

 private:
  std::string line_;
};

}  // namespace

absl::StatusOr<spdlog::level::level_enum> ParseLogLevel(
    absl::string_view text) {
  const std::string lower = absl::AsciiStrToLower(text);
  if (lower == "debug") return spdlog::level::debug;
  if (lower == "info") return spdlog::level::info;
  if (lower == "warn" || lower == "warning") return spdlog::level::warn;
  if (lower == "error") return spdlog::level::err;
  if (lower == "off") return spdlog::level::off;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown log level \"", text,
                   "\"; expected debug, info, warn, error or off"));
}

absl::StatusOr<LogFormat> ParseLogFormat(absl::string_view text) {
  const std::string lower = absl::AsciiStrToLower(text);
  if (lower == "text") return LogFormat::kText;
  if (lower == "json") return LogFormat::kJson;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown log format \"", text, "\"; expected text or json"));
}

void AppendJsonEscaped(absl::string_view text, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (const char c : text) {
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out->append("\\u00");
          out->push_back(kHex[(c >> 4) & 0xf]);
          out->push_back(kHex[c & 0xf]);
        } else {
          out->push_back(c);
        }
    }
  }
}

std::unique_ptr<spdlog::formatter> MakeLogFormatter(LogFormat format) {
  if (format == LogFormat::kJson) return std::make_unique<JsonFormatter>();
  return std::make_unique<spdlog::pattern_formatter>(
      "%Y-%m-%dT%H:%M:%S.%eZ %^%L%$ %n: %v", spdlog::pattern_time_type::utc);
}

void InitLogging(absl::string_view program, spdlog::level::level_enum level,
                 LogFormat format) {
  auto logger = spdlog::stderr_color_mt(std::string(program));
  logger->set_formatter(MakeLogFormatter(format));
  logger->set_level(level);
  spdlog::set_default_logger(std::move(logger));
}

}  // namespace tailor
