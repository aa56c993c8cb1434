// File: config.h
// Building an rd_kafka_conf_t from key/value properties, and routing
// librdkafka's log lines to spdlog.
#ifndef TAILOR_LIBS_KAFKA_CONFIG_H_
#define TAILOR_LIBS_KAFKA_CONFIG_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "libs/kafka/handles.h"

namespace tailor::kafka {

// librdkafka properties in order; a later entry overrides an earlier one.
using Properties = std::vector<std::pair<std::string, std::string>>;

// A new conf with every property set, and librdkafka's log and error
// callbacks routed to spdlog. An unknown key or invalid value is
// InvalidArgument naming the key and librdkafka's reason.
[[nodiscard]] absl::StatusOr<ConfPtr> MakeConf(const Properties& props);

// Sets one property on `conf`; InvalidArgument naming the key on failure.
[[nodiscard]] absl::Status SetConf(rd_kafka_conf_t* conf, absl::string_view key,
                                   absl::string_view value);

// Installs the spdlog log callback (syslog levels mapped to spdlog levels)
// and an error callback that logs. MakeConf() calls this.
void RouteLogsToSpdlog(rd_kafka_conf_t* conf);

// Creates a client of `type` from `conf`, which it takes over (also on
// failure). `what` names the client in the error ("Kafka consumer").
[[nodiscard]] absl::StatusOr<KafkaPtr> NewClient(rd_kafka_type_t type,
                                                 ConfPtr conf,
                                                 absl::string_view what);

// A librdkafka timeout argument: milliseconds, rounded up, 0 for a
// non-positive duration, capped at INT_MAX.
int ToTimeoutMs(absl::Duration d);

// The value of `key` in `props` (last one wins), or `fallback`.
std::string FindProperty(const Properties& props, absl::string_view key,
                         absl::string_view fallback = "");

}  // namespace tailor::kafka

#endif  // TAILOR_LIBS_KAFKA_CONFIG_H_
