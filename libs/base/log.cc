#include "libs/base/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>

#include <string>

namespace tailor {

void InitLogging(absl::string_view program, absl::string_view level) {
  auto logger = spdlog::stderr_color_mt(std::string(program));
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%L%$ %n: %v",
                      spdlog::pattern_time_type::utc);
  logger->set_level(spdlog::level::from_str(std::string(level)));
  spdlog::set_default_logger(std::move(logger));
}

}  // namespace tailor
