// File: service_config.h
// The personalizer's tailor.v1.ServiceConfig: defaults for unset fields and
// validation with messages that name the field.
//
// Unset rule: proto3 cannot tell an unset field from one set to its zero
// value, so a zero value ("" or 0) means "use the default". The HTTP server
// is therefore disabled with the word `off` (http_address: off), never with an
// empty string; an empty http_address gets "0.0.0.0:8080".
#ifndef TAILOR_LIBS_CONFIG_SERVICE_CONFIG_H_
#define TAILOR_LIBS_CONFIG_SERVICE_CONFIG_H_

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tailor/v1/config.pb.h"

namespace tailor::config {

// The http_address value that disables the HTTP server.
inline constexpr absl::string_view kHttpDisabled = "off";

// Defaults, as stated in config.proto.
inline constexpr absl::string_view kDefaultGroupId = "tailor-personalizer";
inline constexpr absl::string_view kDefaultHttpAddress = "0.0.0.0:8080";
inline constexpr int32_t kDefaultMaxBatchEvents = 5000;
inline constexpr int32_t kDefaultMaxBatchMs = 20;
inline constexpr int32_t kDefaultProfileCacheEntries = 200000;
inline constexpr int64_t kDefaultProfileCacheBytes = int64_t{256} << 20;
inline constexpr int64_t kDefaultBlockCacheMb = 128;
inline constexpr int64_t kDefaultWriteBufferMb = 64;
inline constexpr int64_t kDefaultMaxEventSkewHours = 24;
inline constexpr int64_t kDefaultMinEventTimeMs = 946684800000;  // 2000-01-01.
inline constexpr int64_t kDefaultMaxTaskIdleMs = 30000;
inline constexpr int64_t kDefaultWallClockGraceMs = 5000;
inline constexpr int64_t kDefaultMaxStreamTimeLeadMs = 60000;
inline constexpr int64_t kDefaultMaxStallMs = 300000;
inline constexpr int64_t kDefaultBrokerUnreachableMs = 30000;
inline constexpr int64_t kDefaultTimerIndexBytes = 16 << 20;
inline constexpr int64_t kMinTimerIndexBytes = 64 << 10;
inline constexpr int32_t kDefaultCommitIntervalMs = 1000;
inline constexpr int32_t kDefaultMaxBufferedRecords = 20000;
// 13 months of 30.4 days.
inline constexpr int64_t kDefaultProfileRetentionDays = 396;
inline constexpr int64_t kDefaultPurgeIntervalSeconds = 6 * 3600;

// Fills every field left at its zero value with its default: group_id, the
// topic names, batch limits, cache sizes, http_address, event time bounds.
// Also normalizes http_address "OFF"/"Off" to "off". Idempotent.
// bootstrap_servers and state_dir have no default (they are required).
void ApplyServiceDefaults(tailor::v1::ServiceConfig* config);

// Checks a config after ApplyServiceDefaults. Returns kInvalidArgument
// listing every problem ("; "-separated), each starting with the field path,
// e.g. "max_batch_events: must be in [1, 1000000], got 0".
[[nodiscard]] absl::Status ValidateServiceConfig(
    const tailor::v1::ServiceConfig& config);

// Loads a YAML/JSON service config file, applies defaults and validates.
// Errors start with the path.
[[nodiscard]] absl::StatusOr<tailor::v1::ServiceConfig> LoadServiceConfig(
    const std::string& path);

// The environment variable of a ServiceConfig field path: "TAILOR_" and the
// path in upper case with "." as "_" ("topics.clickstream" ->
// "TAILOR_TOPICS_CLICKSTREAM").
std::string EnvironmentVariableFor(absl::string_view field_path);

// Every (variable, field path) pair ApplyServiceEnvironment reads: one per
// scalar field of ServiceConfig and of its nested messages, in declaration
// order.
std::vector<std::pair<std::string, std::string>> ServiceEnvironmentVariables();

// Looks an environment variable up: its value, or nullopt when unset.
using EnvironmentLookup =
    std::function<std::optional<std::string>(const std::string& name)>;
// The process environment (getenv).
EnvironmentLookup ProcessEnvironment();

// Sets every field whose variable is set to a non-empty value, parsed as the
// same value in the YAML file would be (enums by short name, e.g.
// TAILOR_PROCESSING_GUARANTEE=exactly_once). Fields whose variable is unset
// keep their value. Returns kInvalidArgument naming each bad variable and its
// field, all at once.
[[nodiscard]] absl::Status ApplyServiceEnvironment(
    const EnvironmentLookup& lookup, tailor::v1::ServiceConfig* config);

// The address the HTTP server listens on, or nullopt when it is disabled.
std::optional<std::string> HttpListenAddress(
    const tailor::v1::ServiceConfig& config);

// True for a legal Kafka topic name: 1-249 characters of [a-zA-Z0-9._-],
// not "." or "..".
bool IsValidTopicName(absl::string_view name);

// True for "host:port" with port 0-65535 (0: any free port); host is a name, an
// IPv4 address or a bracketed IPv6 address ("[::]:8080").
bool IsValidHostPort(absl::string_view address);

}  // namespace tailor::config

#endif  // TAILOR_LIBS_CONFIG_SERVICE_CONFIG_H_
