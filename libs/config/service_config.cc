#include "libs/config/service_config.h"

#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/descriptor.h"
#include "libs/config/yaml_proto.h"

namespace tailor::config {
namespace {

using tailor::v1::ServiceConfig;
using tailor::v1::TopicsConfig;

constexpr int32_t kMaxBatchEventsLimit = 1000000;
constexpr int32_t kMaxBatchMsLimit = 60000;
// Below 1 MiB a cache of profiles (up to profile::kMaxProfileBytes each)
// holds next to nothing: a typo, not a choice.
constexpr int64_t kMinProfileCacheBytes = int64_t{1} << 20;
constexpr int64_t kMaxProfileCacheBytes = int64_t{1} << 40;  // 1 TiB.
constexpr int64_t kMinBlockCacheMb = 8;
constexpr int64_t kMaxBlockCacheMb = int64_t{1} << 20;  // 1 TiB.
constexpr int64_t kMinWriteBufferMb = 4;
constexpr int64_t kMaxWriteBufferMb = 1 << 16;  // 64 GiB.
constexpr size_t kMaxTopicNameLength = 249;
constexpr int64_t kMaxRetentionDays = 100 * 366;
constexpr int64_t kMaxPurgeIntervalSeconds = 30 * 24 * 3600;

template <typename T>
void Default(T* field, T value) {
  if (*field == T{}) *field = value;
}

void DefaultString(std::string* field, absl::string_view value) {
  if (field->empty()) *field = std::string(value);
}

// The topic fields with their paths, in declaration order.
std::vector<std::pair<std::string, const std::string*>> Topics(
    const TopicsConfig& t) {
  return {{"topics.clickstream", &t.clickstream()},
          {"topics.orders", &t.orders()},
          {"topics.privacy", &t.privacy()},
          {"topics.coupons", &t.coupons()},
          {"topics.push", &t.push()},
          {"topics.cart_reminders", &t.cart_reminders()},
          {"topics.dead_letter", &t.dead_letter()},
          {"topics.changelog", &t.changelog()},
          {"topics.agent_escalations", &t.agent_escalations()},
          {"topics.decisions_log", &t.decisions_log()},
          {"topics.outcomes", &t.outcomes()},
          {"topics.audit", &t.audit()}};
}

bool IsKafkaNameChar(char c) {
  return absl::ascii_isalnum(c) || c == '.' || c == '_' || c == '-';
}

bool IsHostChar(char c) {
  return absl::ascii_isalnum(c) || c == '.' || c == '-' || c == '_';
}

// Appends the (path, field) pairs of the scalar fields of `descriptor`,
// recursing into singular message fields.
void CollectScalarFields(
    const google::protobuf::Descriptor* descriptor, const std::string& prefix,
    std::vector<std::pair<std::string,
                          const google::protobuf::FieldDescriptor*>>* out) {
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* field = descriptor->field(i);
    if (field->is_repeated()) continue;
    const std::string path = absl::StrCat(prefix, field->name());
    if (field->cpp_type() ==
        google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) {
      CollectScalarFields(field->message_type(), absl::StrCat(path, "."), out);
    } else {
      out->emplace_back(path, field);
    }
  }
}

// A YAML document setting `path` (dotted) to `value`, as a single-quoted
// scalar so that it is taken literally.
std::string YamlForPath(absl::string_view path, absl::string_view value) {
  std::string yaml;
  int depth = 0;
  for (absl::string_view part : absl::StrSplit(path, '.')) {
    if (depth > 0) absl::StrAppend(&yaml, "\n");
    absl::StrAppend(&yaml, std::string(2 * depth, ' '), part, ":");
    ++depth;
  }
  absl::StrAppend(&yaml, " '", absl::StrReplaceAll(value, {{"'", "''"}}),
                  "'\n");
  return yaml;
}

}  // namespace

std::string EnvironmentVariableFor(absl::string_view field_path) {
  return absl::StrCat("TAILOR_", absl::AsciiStrToUpper(absl::StrReplaceAll(
                                     field_path, {{".", "_"}})));
}

std::vector<std::pair<std::string, std::string>> ServiceEnvironmentVariables() {
  std::vector<std::pair<std::string, const google::protobuf::FieldDescriptor*>>
      fields;
  CollectScalarFields(ServiceConfig::descriptor(), "", &fields);
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(fields.size());
  for (const auto& [path, field] : fields) {
    out.emplace_back(EnvironmentVariableFor(path), path);
  }
  return out;
}

EnvironmentLookup ProcessEnvironment() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

absl::Status ApplyServiceEnvironment(const EnvironmentLookup& lookup,
                                     ServiceConfig* config) {
  std::vector<std::string> errors;
  std::vector<std::pair<std::string, const google::protobuf::FieldDescriptor*>>
      fields;
  CollectScalarFields(ServiceConfig::descriptor(), "", &fields);
  for (const auto& [path, field] : fields) {
    const std::string variable = EnvironmentVariableFor(path);
    const std::optional<std::string> value = lookup(variable);
    if (!value.has_value() || value->empty()) continue;
    ServiceConfig from_env;
    absl::Status s = ParseYamlIntoProto(YamlForPath(path, *value), &from_env);
    if (!s.ok()) {
      errors.push_back(absl::StrCat(variable, ": ", s.message()));
      continue;
    }
    // Clear the field first: MergeFrom skips proto3 zero values, and
    // TAILOR_PRINT_DECISIONS=false must still override the file.
    google::protobuf::Message* parent = config;
    const std::vector<std::string> parts = absl::StrSplit(path, '.');
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
      parent = parent->GetReflection()->MutableMessage(
          parent, parent->GetDescriptor()->FindFieldByName(parts[i]));
    }
    parent->GetReflection()->ClearField(parent, field);
    config->MergeFrom(from_env);
  }
  if (errors.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrJoin(errors, "; "));
}

void ApplyServiceDefaults(ServiceConfig* config) {
  DefaultString(config->mutable_group_id(), kDefaultGroupId);
  TopicsConfig* t = config->mutable_topics();
  DefaultString(t->mutable_clickstream(), "clickstream");
  DefaultString(t->mutable_orders(), "orders");
  DefaultString(t->mutable_privacy(), "privacy");
  DefaultString(t->mutable_coupons(), "decisions.coupons");
  DefaultString(t->mutable_push(), "decisions.push");
  DefaultString(t->mutable_cart_reminders(), "decisions.cart-reminders");
  DefaultString(t->mutable_dead_letter(), "tailor.dlq");
  DefaultString(t->mutable_changelog(), "tailor.profiles.changelog");
  DefaultString(t->mutable_agent_escalations(), "decisions.agent-escalations");
  DefaultString(t->mutable_decisions_log(), "tailor.decisions.log");
  DefaultString(t->mutable_outcomes(), "tailor.outcomes");
  DefaultString(t->mutable_audit(), "tailor.audit");

  if (config->max_batch_events() == 0) {
    config->set_max_batch_events(kDefaultMaxBatchEvents);
  }
  if (config->max_batch_ms() == 0) config->set_max_batch_ms(kDefaultMaxBatchMs);
  if (config->profile_cache_entries() == 0) {
    config->set_profile_cache_entries(kDefaultProfileCacheEntries);
  }
  if (config->profile_cache_bytes() == 0) {
    config->set_profile_cache_bytes(kDefaultProfileCacheBytes);
  }
  if (config->block_cache_mb() == 0) {
    config->set_block_cache_mb(kDefaultBlockCacheMb);
  }
  if (config->write_buffer_mb() == 0) {
    config->set_write_buffer_mb(kDefaultWriteBufferMb);
  }
  if (config->max_event_skew_hours() == 0) {
    config->set_max_event_skew_hours(kDefaultMaxEventSkewHours);
  }
  if (config->min_event_time_ms() == 0) {
    config->set_min_event_time_ms(kDefaultMinEventTimeMs);
  }
  if (config->time_source() == tailor::v1::TIME_SOURCE_UNSPECIFIED) {
    config->set_time_source(tailor::v1::TIME_SOURCE_WALL);
  }
  if (config->misrouted_events() == tailor::v1::MISROUTED_EVENTS_UNSPECIFIED) {
    config->set_misrouted_events(tailor::v1::MISROUTED_EVENTS_COUNT);
  }
  if (config->compression() == tailor::v1::COMPRESSION_UNSPECIFIED) {
    config->set_compression(tailor::v1::COMPRESSION_LZ4);
  }
  if (!config->has_max_task_idle_ms()) {
    config->set_max_task_idle_ms(kDefaultMaxTaskIdleMs);
  }
  if (!config->has_wall_clock_grace_ms()) {
    config->set_wall_clock_grace_ms(kDefaultWallClockGraceMs);
  }
  if (!config->has_max_stream_time_lead_ms()) {
    config->set_max_stream_time_lead_ms(kDefaultMaxStreamTimeLeadMs);
  }
  if (config->commit_interval_ms() == 0) {
    config->set_commit_interval_ms(kDefaultCommitIntervalMs);
  }
  if (!config->has_broker_unreachable_ms()) {
    config->set_broker_unreachable_ms(kDefaultBrokerUnreachableMs);
  }
  if (config->timer_index_bytes() == 0) {
    config->set_timer_index_bytes(kDefaultTimerIndexBytes);
  }
  if (!config->has_max_stall_ms()) {
    config->set_max_stall_ms(kDefaultMaxStallMs);
  }
  if (config->max_buffered_records() == 0) {
    config->set_max_buffered_records(kDefaultMaxBufferedRecords);
  }
  if (!config->has_profile_retention_days()) {
    config->set_profile_retention_days(kDefaultProfileRetentionDays);
  }
  if (!config->has_purge_interval_seconds()) {
    config->set_purge_interval_seconds(kDefaultPurgeIntervalSeconds);
  }
  if (config->http_address().empty()) {
    config->set_http_address(std::string(kDefaultHttpAddress));
  } else if (absl::EqualsIgnoreCase(config->http_address(), kHttpDisabled)) {
    config->set_http_address(std::string(kHttpDisabled));
  }
}

bool IsValidTopicName(absl::string_view name) {
  if (name.empty() || name.size() > kMaxTopicNameLength) return false;
  if (name == "." || name == "..") return false;
  for (char c : name) {
    if (!IsKafkaNameChar(c)) return false;
  }
  return true;
}

bool IsValidHostPort(absl::string_view address) {
  absl::string_view host;
  absl::string_view port;
  if (absl::StartsWith(address, "[")) {
    const size_t close = address.find("]:");
    if (close == absl::string_view::npos) return false;
    host = address.substr(1, close - 1);
    port = address.substr(close + 2);
    if (host.empty()) return false;
    for (char c : host) {
      if (!absl::ascii_isxdigit(c) && c != ':' && c != '.') return false;
    }
  } else {
    const size_t colon = address.rfind(':');
    if (colon == absl::string_view::npos) return false;
    host = address.substr(0, colon);
    port = address.substr(colon + 1);
    if (host.empty()) return false;
    for (char c : host) {
      if (!IsHostChar(c)) return false;
    }
  }
  if (port.empty() || port.size() > 5) return false;
  for (char c : port) {
    if (!absl::ascii_isdigit(c)) return false;
  }
  int value = 0;
  return absl::SimpleAtoi(port, &value) && value >= 0 && value <= 65535;
}

absl::Status ValidateServiceConfig(const ServiceConfig& config) {
  std::vector<std::string> errors;
  auto fail = [&errors](absl::string_view field, absl::string_view reason) {
    errors.push_back(absl::StrCat(field, ": ", reason));
  };

  if (config.bootstrap_servers().empty()) {
    fail("bootstrap_servers", "required");
  } else {
    for (absl::string_view server :
         absl::StrSplit(config.bootstrap_servers(), ',')) {
      server = absl::StripAsciiWhitespace(server);
      if (server.empty()) {
        fail("bootstrap_servers",
             absl::StrCat("empty entry in \"", config.bootstrap_servers(),
                          "\""));
        break;
      }
    }
  }
  if (config.group_id().empty()) fail("group_id", "must not be empty");
  if (config.state_dir().empty()) fail("state_dir", "required");

  if (config.max_batch_events() < 1 ||
      config.max_batch_events() > kMaxBatchEventsLimit) {
    fail("max_batch_events",
         absl::StrCat("must be in [1, ", kMaxBatchEventsLimit, "], got ",
                      config.max_batch_events()));
  }
  if (config.max_batch_ms() < 1 || config.max_batch_ms() > kMaxBatchMsLimit) {
    fail("max_batch_ms", absl::StrCat("must be in [1, ", kMaxBatchMsLimit,
                                      "], got ", config.max_batch_ms()));
  }
  if (config.profile_cache_entries() < 0) {
    fail("profile_cache_entries",
         absl::StrCat("must be >= 0, got ", config.profile_cache_entries()));
  }
  if (config.profile_cache_bytes() < kMinProfileCacheBytes ||
      config.profile_cache_bytes() > kMaxProfileCacheBytes) {
    fail("profile_cache_bytes",
         absl::StrCat("must be in [", kMinProfileCacheBytes, ", ",
                      kMaxProfileCacheBytes, "] (0 means ",
                      kDefaultProfileCacheBytes, "), got ",
                      config.profile_cache_bytes()));
  }
  if (config.block_cache_mb() < kMinBlockCacheMb ||
      config.block_cache_mb() > kMaxBlockCacheMb) {
    fail("block_cache_mb",
         absl::StrCat("must be in [", kMinBlockCacheMb, ", ", kMaxBlockCacheMb,
                      "], got ", config.block_cache_mb()));
  }
  if (config.write_buffer_mb() < kMinWriteBufferMb ||
      config.write_buffer_mb() > kMaxWriteBufferMb) {
    fail("write_buffer_mb",
         absl::StrCat("must be in [", kMinWriteBufferMb, ", ",
                      kMaxWriteBufferMb, "], got ", config.write_buffer_mb()));
  }
  if (config.max_event_skew_hours() < 1) {
    fail("max_event_skew_hours",
         absl::StrCat("must be >= 1, got ", config.max_event_skew_hours()));
  }
  if (config.min_event_time_ms() < 0) {
    fail("min_event_time_ms",
         absl::StrCat("must be >= 0, got ", config.min_event_time_ms()));
  }

  if (config.max_task_idle_ms() < -1) {
    fail("max_task_idle_ms",
         absl::StrCat("must be >= -1 (-1 waits for ever), got ",
                      config.max_task_idle_ms()));
  }
  if (config.wall_clock_grace_ms() < 0) {
    fail("wall_clock_grace_ms",
         absl::StrCat("must be >= 0, got ", config.wall_clock_grace_ms()));
  }
  if (config.max_stream_time_lead_ms() < 0) {
    fail("max_stream_time_lead_ms",
         absl::StrCat("must be >= 0, got ", config.max_stream_time_lead_ms()));
  }
  if (config.timer_index_bytes() < kMinTimerIndexBytes) {
    fail("timer_index_bytes",
         absl::StrCat("must be >= ", kMinTimerIndexBytes, " (64 KiB), got ",
                      config.timer_index_bytes()));
  }
  if (config.worker_threads() < 0 || config.worker_threads() > 64) {
    fail("worker_threads",
         absl::StrCat("must be in [0, 64], got ", config.worker_threads()));
  }
  if (config.broker_unreachable_ms() < 0) {
    fail("broker_unreachable_ms",
         absl::StrCat("must be >= 0, got ", config.broker_unreachable_ms()));
  }
  if (config.max_stall_ms() < 0) {
    fail("max_stall_ms",
         absl::StrCat("must be >= 0, got ", config.max_stall_ms()));
  }
  if (config.commit_interval_ms() < 1 ||
      config.commit_interval_ms() > kMaxBatchMsLimit) {
    fail("commit_interval_ms",
         absl::StrCat("must be in [1, ", kMaxBatchMsLimit, "], got ",
                      config.commit_interval_ms()));
  }
  if (config.max_buffered_records() < 1) {
    fail("max_buffered_records",
         absl::StrCat("must be >= 1, got ", config.max_buffered_records()));
  }
  if (config.profile_retention_days() < 0 ||
      config.profile_retention_days() > kMaxRetentionDays) {
    fail("profile_retention_days",
         absl::StrCat("must be in [0, ", kMaxRetentionDays,
                      "] (0 keeps for ever), got ",
                      config.profile_retention_days()));
  }
  if (config.purge_interval_seconds() < 1 ||
      config.purge_interval_seconds() > kMaxPurgeIntervalSeconds) {
    fail("purge_interval_seconds",
         absl::StrCat("must be in [1, ", kMaxPurgeIntervalSeconds, "], got ",
                      config.purge_interval_seconds()));
  }

  const auto topics = Topics(config.topics());
  for (size_t i = 0; i < topics.size(); ++i) {
    const auto& [path, name] = topics[i];
    if (name->empty()) {
      fail(path, "must not be empty");
      continue;
    }
    if (!IsValidTopicName(*name)) {
      fail(path, absl::StrCat("\"", absl::CHexEscape(*name),
                              "\" is not a legal Kafka topic name (1-",
                              kMaxTopicNameLength,
                              " characters of a-z A-Z 0-9 . _ -)"));
      continue;
    }
    for (size_t j = 0; j < i; ++j) {
      if (*topics[j].second == *name) {
        fail(path, absl::StrCat("\"", *name, "\" is also ", topics[j].first));
        break;
      }
    }
  }

  if (config.http_address().empty()) {
    fail("http_address", absl::StrCat("must not be empty; use \"",
                                      kHttpDisabled, "\" to disable"));
  } else if (config.http_address() != kHttpDisabled &&
             !IsValidHostPort(config.http_address())) {
    fail("http_address",
         absl::StrCat(
             "expected host:port (port 0-65535; 0 picks a free port) or \"",
             kHttpDisabled, "\", got \"",
             absl::CHexEscape(config.http_address()), "\""));
  }

  if (!config.group_instance_id().empty()) {
    for (char c : config.group_instance_id()) {
      if (!IsKafkaNameChar(c)) {
        fail("group_instance_id",
             absl::StrCat("\"", absl::CHexEscape(config.group_instance_id()),
                          "\" may hold only a-z A-Z 0-9 . _ -"));
        break;
      }
    }
    if (config.group_instance_id().size() > kMaxTopicNameLength) {
      fail("group_instance_id", "longer than 249 characters");
    }
  }

  if (errors.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrJoin(errors, "; "));
}

absl::StatusOr<ServiceConfig> LoadServiceConfig(const std::string& path) {
  ServiceConfig config;
  absl::Status s = LoadYamlFileIntoProto(path, &config);
  if (!s.ok()) return s;
  ApplyServiceDefaults(&config);
  s = ValidateServiceConfig(config);
  if (!s.ok()) {
    return absl::Status(s.code(), absl::StrCat(path, ": ", s.message()));
  }
  return config;
}

std::optional<std::string> HttpListenAddress(const ServiceConfig& config) {
  if (config.http_address() == kHttpDisabled) return std::nullopt;
  if (config.http_address().empty()) return std::string(kDefaultHttpAddress);
  return config.http_address();
}

}  // namespace tailor::config
