#include "libs/config/service_config.h"

#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/config/yaml_proto.h"

namespace tailor::config {
namespace {

using tailor::v1::ServiceConfig;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

ServiceConfig Minimal() {
  ServiceConfig config;
  config.set_bootstrap_servers("127.0.0.1:9092");
  config.set_state_dir("/var/lib/tailor");
  ApplyServiceDefaults(&config);
  return config;
}

TEST(ApplyServiceDefaultsTest, FillsEveryDefault) {
  ServiceConfig config;
  ApplyServiceDefaults(&config);
  EXPECT_EQ(config.group_id(), "tailor-personalizer");
  EXPECT_EQ(config.topics().clickstream(), "clickstream");
  EXPECT_EQ(config.topics().orders(), "orders");
  EXPECT_EQ(config.topics().privacy(), "privacy");
  EXPECT_EQ(config.topics().coupons(), "decisions.coupons");
  EXPECT_EQ(config.topics().push(), "decisions.push");
  EXPECT_EQ(config.topics().cart_reminders(), "decisions.cart-reminders");
  EXPECT_EQ(config.topics().dead_letter(), "tailor.dlq");
  EXPECT_EQ(config.topics().changelog(), "tailor.profiles.changelog");
  EXPECT_EQ(config.topics().audit(), "tailor.audit");
  EXPECT_EQ(config.profile_retention_days(), 396);
  EXPECT_EQ(config.purge_interval_seconds(), 21600);
  EXPECT_EQ(config.max_batch_events(), 5000);
  EXPECT_EQ(config.max_batch_ms(), 20);
  EXPECT_EQ(config.profile_cache_entries(), 200000);
  EXPECT_EQ(config.profile_cache_bytes(), 256 << 20);
  EXPECT_EQ(config.block_cache_mb(), 128);
  EXPECT_EQ(config.write_buffer_mb(), 64);
  EXPECT_EQ(config.http_address(), "0.0.0.0:8080");
  EXPECT_EQ(config.max_event_skew_hours(), 24);
  EXPECT_EQ(config.min_event_time_ms(), 946684800000);
  // Required fields get no default.
  EXPECT_EQ(config.bootstrap_servers(), "");
  EXPECT_EQ(config.state_dir(), "");
}

TEST(ApplyServiceDefaultsTest, KeepsSetValuesAndIsIdempotent) {
  ServiceConfig config;
  config.set_group_id("g");
  config.mutable_topics()->set_orders("shop.orders");
  config.set_max_batch_events(100);
  config.set_block_cache_mb(512);
  config.set_http_address("127.0.0.1:9000");
  ApplyServiceDefaults(&config);
  ServiceConfig again = config;
  ApplyServiceDefaults(&again);
  EXPECT_EQ(again.SerializeAsString(), config.SerializeAsString());
  EXPECT_EQ(config.group_id(), "g");
  EXPECT_EQ(config.topics().orders(), "shop.orders");
  EXPECT_EQ(config.topics().clickstream(), "clickstream");
  EXPECT_EQ(config.max_batch_events(), 100);
  EXPECT_EQ(config.block_cache_mb(), 512);
  EXPECT_EQ(config.http_address(), "127.0.0.1:9000");
}

TEST(ApplyServiceDefaultsTest, HttpOffDisablesAndStaysOff) {
  ServiceConfig config;
  config.set_http_address("OFF");
  ApplyServiceDefaults(&config);
  EXPECT_EQ(config.http_address(), "off");
  ApplyServiceDefaults(&config);
  EXPECT_EQ(config.http_address(), "off");
  EXPECT_EQ(HttpListenAddress(config), std::nullopt);

  ServiceConfig unset;
  EXPECT_EQ(HttpListenAddress(unset), "0.0.0.0:8080");
  ApplyServiceDefaults(&unset);
  EXPECT_EQ(HttpListenAddress(unset), "0.0.0.0:8080");
}

TEST(ValidateServiceConfigTest, MinimalConfigWithDefaultsIsValid) {
  absl::Status s = ValidateServiceConfig(Minimal());
  EXPECT_TRUE(s.ok()) << s;
}

// Each mutation must be refused with a message that starts with the field.
struct Rule {
  const char* name;
  void (*mutate)(ServiceConfig*);
  const char* field;
};

class ValidationRuleTest : public ::testing::TestWithParam<Rule> {};

TEST_P(ValidationRuleTest, RefusesAndNamesField) {
  ServiceConfig config = Minimal();
  GetParam().mutate(&config);
  absl::Status s = ValidateServiceConfig(config);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()),
              StartsWith(std::string(GetParam().field) + ": "))
      << s;
}

INSTANTIATE_TEST_SUITE_P(
    Rules, ValidationRuleTest,
    ::testing::Values(
        Rule{"NoBootstrap",
             [](ServiceConfig* c) { c->clear_bootstrap_servers(); },
             "bootstrap_servers"},
        Rule{"EmptyBootstrapEntry",
             [](ServiceConfig* c) {
               c->set_bootstrap_servers("a:9092,,b:9092");
             },
             "bootstrap_servers"},
        Rule{"NoStateDir", [](ServiceConfig* c) { c->clear_state_dir(); },
             "state_dir"},
        Rule{"NoGroup", [](ServiceConfig* c) { c->clear_group_id(); },
             "group_id"},
        Rule{"BatchEventsZero",
             [](ServiceConfig* c) { c->set_max_batch_events(0); },
             "max_batch_events"},
        Rule{"BatchEventsNegative",
             [](ServiceConfig* c) { c->set_max_batch_events(-5); },
             "max_batch_events"},
        Rule{"BatchEventsTooMany",
             [](ServiceConfig* c) { c->set_max_batch_events(1000001); },
             "max_batch_events"},
        Rule{"BatchMsZero", [](ServiceConfig* c) { c->set_max_batch_ms(0); },
             "max_batch_ms"},
        Rule{"BatchMsTooLong",
             [](ServiceConfig* c) { c->set_max_batch_ms(60001); },
             "max_batch_ms"},
        Rule{"CacheNegative",
             [](ServiceConfig* c) { c->set_profile_cache_entries(-1); },
             "profile_cache_entries"},
        Rule{"CacheBytesNegative",
             [](ServiceConfig* c) { c->set_profile_cache_bytes(-1); },
             "profile_cache_bytes"},
        Rule{"CacheBytesAbsurdlySmall",
             [](ServiceConfig* c) { c->set_profile_cache_bytes(4096); },
             "profile_cache_bytes"},
        Rule{"CacheBytesAbsurdlyLarge",
             [](ServiceConfig* c) {
               c->set_profile_cache_bytes(int64_t{1} << 41);
             },
             "profile_cache_bytes"},
        Rule{"BlockCacheSmall",
             [](ServiceConfig* c) { c->set_block_cache_mb(7); },
             "block_cache_mb"},
        Rule{"WriteBufferSmall",
             [](ServiceConfig* c) { c->set_write_buffer_mb(3); },
             "write_buffer_mb"},
        Rule{"SkewNegative",
             [](ServiceConfig* c) { c->set_max_event_skew_hours(-1); },
             "max_event_skew_hours"},
        Rule{"MinEventTimeNegative",
             [](ServiceConfig* c) { c->set_min_event_time_ms(-1); },
             "min_event_time_ms"},
        Rule{"TopicEmpty",
             [](ServiceConfig* c) { c->mutable_topics()->clear_privacy(); },
             "topics.privacy"},
        Rule{"TopicBadChar",
             [](ServiceConfig* c) {
               c->mutable_topics()->set_push("decisions/push");
             },
             "topics.push"},
        Rule{"TopicSpace",
             [](ServiceConfig* c) {
               c->mutable_topics()->set_coupons("my coupons");
             },
             "topics.coupons"},
        Rule{"TopicTooLong",
             [](ServiceConfig* c) {
               c->mutable_topics()->set_changelog(std::string(250, 'a'));
             },
             "topics.changelog"},
        Rule{"TopicDot",
             [](ServiceConfig* c) { c->mutable_topics()->set_orders(".."); },
             "topics.orders"},
        Rule{"TopicDuplicate",
             [](ServiceConfig* c) {
               c->mutable_topics()->set_dead_letter("clickstream");
             },
             "topics.dead_letter"},
        Rule{"HttpEmpty", [](ServiceConfig* c) { c->clear_http_address(); },
             "http_address"},
        Rule{"HttpNoPort",
             [](ServiceConfig* c) { c->set_http_address("0.0.0.0"); },
             "http_address"},
        Rule{"HttpBadPort",
             [](ServiceConfig* c) { c->set_http_address("0.0.0.0:70000"); },
             "http_address"},
        Rule{"HttpNoHost",
             [](ServiceConfig* c) { c->set_http_address(":8080"); },
             "http_address"},
        Rule{"HttpPortText",
             [](ServiceConfig* c) { c->set_http_address("localhost:http"); },
             "http_address"},
        Rule{"InstanceIdBadChar",
             [](ServiceConfig* c) { c->set_group_instance_id("pod 1"); },
             "group_instance_id"},
        Rule{"AuditTopicDuplicate",
             [](ServiceConfig* c) {
               c->mutable_topics()->set_audit("tailor.dlq");
             },
             "topics.audit"},
        Rule{"RetentionNegative",
             [](ServiceConfig* c) { c->set_profile_retention_days(-1); },
             "profile_retention_days"},
        Rule{"PurgeIntervalZero",
             [](ServiceConfig* c) { c->set_purge_interval_seconds(0); },
             "purge_interval_seconds"}),
    [](const ::testing::TestParamInfo<Rule>& info) {
      return std::string(info.param.name);
    });

TEST(ValidateServiceConfigTest, BoundaryValuesAreAccepted) {
  ServiceConfig config = Minimal();
  config.set_max_batch_events(1);
  config.set_max_batch_ms(60000);
  config.set_block_cache_mb(8);
  config.set_write_buffer_mb(4);
  config.set_http_address("[::1]:65535");
  config.mutable_topics()->set_changelog(std::string(249, 'a'));
  config.set_group_instance_id("personalizer-0");
  absl::Status s = ValidateServiceConfig(config);
  EXPECT_TRUE(s.ok()) << s;
  config.set_max_batch_events(1000000);
  config.set_max_batch_ms(1);
  config.set_http_address("off");
  EXPECT_TRUE(ValidateServiceConfig(config).ok());
}

TEST(ValidateServiceConfigTest, ReportsEveryProblem) {
  ServiceConfig config;
  ApplyServiceDefaults(&config);
  config.set_max_batch_ms(0);
  absl::Status s = ValidateServiceConfig(config);
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("bootstrap_servers: required"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("state_dir: required"));
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("max_batch_ms: must be in [1, 60000], got 0"));
}

TEST(IsValidTopicNameTest, Cases) {
  EXPECT_TRUE(IsValidTopicName("decisions.cart-reminders"));
  EXPECT_TRUE(IsValidTopicName("A_b.9-z"));
  EXPECT_FALSE(IsValidTopicName(""));
  EXPECT_FALSE(IsValidTopicName("."));
  EXPECT_FALSE(IsValidTopicName("a,b"));
  EXPECT_FALSE(IsValidTopicName("zamówienia"));
}

TEST(IsValidHostPortTest, Cases) {
  EXPECT_TRUE(IsValidHostPort("0.0.0.0:8080"));
  EXPECT_TRUE(IsValidHostPort("localhost:1"));
  EXPECT_TRUE(IsValidHostPort("[::]:8080"));
  EXPECT_FALSE(IsValidHostPort("[::]8080"));
  EXPECT_FALSE(IsValidHostPort("::1:8080"));
  EXPECT_FALSE(IsValidHostPort("host:-1"));
  EXPECT_FALSE(IsValidHostPort("host:"));
  EXPECT_FALSE(IsValidHostPort("ho st:80"));
}

class LoadServiceConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "/service_config_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/personalizer.yaml";
  }
  void TearDown() override {
    unlink(path_.c_str());
    rmdir(dir_.c_str());
  }
  void Write(absl::string_view text) { std::ofstream(path_) << text; }
  std::string dir_;
  std::string path_;
};

TEST_F(LoadServiceConfigTest, LoadsAppliesDefaultsAndValidates) {
  Write(R"(
bootstrap_servers: kafka-0:9092,kafka-1:9092
state_dir: /data/tailor
topics:
  orders: shop.orders
max_batch_events: 2000
http_address: off
print_decisions: true
)");
  absl::StatusOr<ServiceConfig> config = LoadServiceConfig(path_);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->bootstrap_servers(), "kafka-0:9092,kafka-1:9092");
  EXPECT_EQ(config->topics().orders(), "shop.orders");
  EXPECT_EQ(config->topics().clickstream(), "clickstream");
  EXPECT_EQ(config->max_batch_events(), 2000);
  EXPECT_EQ(config->max_batch_ms(), 20);
  EXPECT_TRUE(config->print_decisions());
  EXPECT_EQ(HttpListenAddress(*config), std::nullopt);
}

TEST_F(LoadServiceConfigTest, ErrorsNameFileAndField) {
  Write(
      "bootstrap_servers: k:9092\nstate_dir: /d\nmax_batch_ms: 0\n"
      "block_cache_mb: 2\n");
  absl::StatusOr<ServiceConfig> config = LoadServiceConfig(path_);
  ASSERT_FALSE(config.ok());
  // max_batch_ms 0 means "default", so only block_cache_mb is wrong.
  EXPECT_EQ(std::string(config.status().message()),
            path_ + ": block_cache_mb: must be in [8, 1048576], got 2");
  EXPECT_THAT(std::string(config.status().message()),
              Not(HasSubstr("max_batch_ms")));

  Write("bootstrap_servers: k:9092\nstate_dir: /d\nmax_batch_events: lots\n");
  config = LoadServiceConfig(path_);
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(std::string(config.status().message()),
              StartsWith(path_ + ": max_batch_events: expected an integer"));
}

EnvironmentLookup Env(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](
             const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST(ServiceEnvironmentTest, NamesEveryScalarFieldOnce) {
  const auto vars = ServiceEnvironmentVariables();
  std::set<std::string> names;
  for (const auto& [name, path] : vars) {
    EXPECT_EQ(name, EnvironmentVariableFor(path));
    EXPECT_TRUE(names.insert(name).second) << name;
  }
  EXPECT_TRUE(names.contains("TAILOR_BOOTSTRAP_SERVERS"));
  EXPECT_TRUE(names.contains("TAILOR_TOPICS_CLICKSTREAM"));
  EXPECT_TRUE(names.contains("TAILOR_MAX_TASK_IDLE_MS"));
  EXPECT_FALSE(names.contains("TAILOR_TOPICS"));
  // Every scalar field of ServiceConfig is reachable (topics through its
  // fields); the maps (kafka_properties, kafka_property_files) have
  // free-form keys and are set in the file.
  size_t reachable = tailor::v1::TopicsConfig::descriptor()->field_count();
  for (int i = 0; i < ServiceConfig::descriptor()->field_count(); ++i) {
    if (ServiceConfig::descriptor()->field(i)->message_type() == nullptr) {
      ++reachable;
    }
  }
  EXPECT_EQ(vars.size(), reachable);
}

TEST(ServiceEnvironmentTest, SetsFieldsOfEveryType) {
  ServiceConfig config;
  config.set_print_decisions(true);
  config.set_group_id("from-file");
  ASSERT_TRUE(
      ApplyServiceEnvironment(
          Env({{"TAILOR_BOOTSTRAP_SERVERS", "kafka-0:9092,kafka-1:9092"},
               {"TAILOR_MAX_BATCH_EVENTS", "250"},
               {"TAILOR_TOPICS_CLICKSTREAM", "shop.clicks"},
               {"TAILOR_PROCESSING_GUARANTEE", "exactly_once"},
               {"TAILOR_MAX_TASK_IDLE_MS", "0"},
               {"TAILOR_PRINT_DECISIONS", "false"},
               {"TAILOR_GROUP_ID", ""},
               {"TAILOR_STATE_DIR", "/var/lib/tailor/it's"}}),
          &config)
          .ok());
  EXPECT_EQ(config.bootstrap_servers(), "kafka-0:9092,kafka-1:9092");
  EXPECT_EQ(config.max_batch_events(), 250);
  EXPECT_EQ(config.topics().clickstream(), "shop.clicks");
  EXPECT_EQ(config.processing_guarantee(),
            tailor::v1::PROCESSING_GUARANTEE_EXACTLY_ONCE);
  ASSERT_TRUE(config.has_max_task_idle_ms());
  EXPECT_EQ(config.max_task_idle_ms(), 0);
  EXPECT_FALSE(config.print_decisions());     // false overrides the file
  EXPECT_EQ(config.group_id(), "from-file");  // empty means unset
  EXPECT_EQ(config.state_dir(), "/var/lib/tailor/it's");
}

TEST(ServiceEnvironmentTest, SetsTheProducerContractPolicies) {
  ServiceConfig config;
  ApplyServiceDefaults(&config);
  EXPECT_EQ(config.misrouted_events(), tailor::v1::MISROUTED_EVENTS_COUNT);
  EXPECT_EQ(config.compression(), tailor::v1::COMPRESSION_LZ4);
  ASSERT_TRUE(
      ApplyServiceEnvironment(Env({{"TAILOR_MISROUTED_EVENTS", "dead_letter"},
                                   {"TAILOR_COMPRESSION", "gzip"}}),
                              &config)
          .ok());
  EXPECT_EQ(config.misrouted_events(),
            tailor::v1::MISROUTED_EVENTS_DEAD_LETTER);
  EXPECT_EQ(config.compression(), tailor::v1::COMPRESSION_GZIP);
  const absl::Status bad =
      ApplyServiceEnvironment(Env({{"TAILOR_COMPRESSION", "brotli"}}), &config);
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.message()), HasSubstr("TAILOR_COMPRESSION"));
}

TEST(ServiceEnvironmentTest, SetsTheProfileCacheBytes) {
  ServiceConfig config;
  ASSERT_TRUE(ApplyServiceEnvironment(
                  Env({{"TAILOR_PROFILE_CACHE_BYTES", "16777216"}}), &config)
                  .ok());
  ApplyServiceDefaults(&config);
  EXPECT_EQ(config.profile_cache_bytes(), 16 << 20);
  EXPECT_EQ(config.profile_cache_entries(), 200000);  // both bounds
}

TEST(ServiceEnvironmentTest, ReportsEveryBadVariable) {
  ServiceConfig config;
  const absl::Status s =
      ApplyServiceEnvironment(Env({{"TAILOR_MAX_BATCH_EVENTS", "many"},
                                   {"TAILOR_TIME_SOURCE", "sundial"}}),
                              &config);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("TAILOR_MAX_BATCH_EVENTS: "));
  EXPECT_THAT(s.message(), HasSubstr("max_batch_events"));
  EXPECT_THAT(s.message(), HasSubstr("TAILOR_TIME_SOURCE: "));
}

}  // namespace
}  // namespace tailor::config
