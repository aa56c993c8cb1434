#include "libs/kafka/config.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <limits>
#include <string>

#include "absl/strings/str_cat.h"

namespace tailor::kafka {
namespace {

spdlog::level::level_enum LevelFor(int syslog_level) {
  switch (syslog_level) {
    case 0:  // LOG_EMERG
    case 1:  // LOG_ALERT
    case 2:  // LOG_CRIT
      return spdlog::level::critical;
    case 3:  // LOG_ERR
      return spdlog::level::err;
    case 4:  // LOG_WARNING
      return spdlog::level::warn;
    case 5:  // LOG_NOTICE
    case 6:  // LOG_INFO
      return spdlog::level::info;
    default:  // LOG_DEBUG
      return spdlog::level::debug;
  }
}

void LogCallback(const rd_kafka_t* rk, int level, const char* fac,
                 const char* buf) {
  spdlog::log(LevelFor(level), "librdkafka {} {}: {}",
              rk != nullptr ? rd_kafka_name(rk) : "-", fac, buf);
}

void ErrorCallback(rd_kafka_t* rk, int err, const char* reason, void*) {
  const auto code = static_cast<rd_kafka_resp_err_t>(err);
  // Transport errors and "all brokers down" are transient and frequent while
  // a broker restarts; librdkafka reconnects by itself.
  const bool transient = code == RD_KAFKA_RESP_ERR__TRANSPORT ||
                         code == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN;
  spdlog::log(transient ? spdlog::level::warn : spdlog::level::err,
              "librdkafka {} error {}: {}", rd_kafka_name(rk),
              rd_kafka_err2name(code), reason);
}

}  // namespace

absl::Status SetConf(rd_kafka_conf_t* conf, absl::string_view key,
                     absl::string_view value) {
  std::array<char, 512> errstr{};
  const std::string k(key);
  const std::string v(value);
  if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), errstr.data(),
                        errstr.size()) != RD_KAFKA_CONF_OK) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid Kafka config key '", key, "': ", errstr.data()));
  }
  return absl::OkStatus();
}

void RouteLogsToSpdlog(rd_kafka_conf_t* conf) {
  rd_kafka_conf_set_log_cb(conf, &LogCallback);
  rd_kafka_conf_set_error_cb(conf, &ErrorCallback);
}

absl::StatusOr<ConfPtr> MakeConf(const Properties& props) {
  ConfPtr conf(rd_kafka_conf_new());
  RouteLogsToSpdlog(conf.get());
  for (const auto& [key, value] : props) {
    absl::Status s = SetConf(conf.get(), key, value);
    if (!s.ok()) return s;
  }
  return conf;
}

std::string FindProperty(const Properties& props, absl::string_view key,
                         absl::string_view fallback) {
  std::string found(fallback);
  for (const auto& [k, v] : props) {
    if (k == key) found = v;
  }
  return found;
}

absl::StatusOr<KafkaPtr> NewClient(rd_kafka_type_t type, ConfPtr conf,
                                   absl::string_view what) {
  std::array<char, 512> errstr{};
  rd_kafka_t* rk = rd_kafka_new(type, conf.get(), errstr.data(), errstr.size());
  if (rk == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot create ", what, ": ", errstr.data()));
  }
  conf.release();  // Owned by rk from here on.
  return KafkaPtr(rk);
}

int ToTimeoutMs(absl::Duration d) {
  if (d <= absl::ZeroDuration()) return 0;
  const int64_t ms =
      absl::ToInt64Milliseconds(absl::Ceil(d, absl::Milliseconds(1)));
  return static_cast<int>(
      std::min<int64_t>(ms, std::numeric_limits<int>::max()));
}

}  // namespace tailor::kafka
