#include "services/personalizer/metrics.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/pipeline/dead_letter.h"
#include "prometheus/text_serializer.h"

namespace tailor {
namespace {

using ::testing::HasSubstr;

std::string Scrape(PersonalizerMetrics& metrics) {
  return prometheus::TextSerializer().Serialize(metrics.registry()->Collect());
}

TEST(DeadLetterErrorClassTest, Classes) {
  EXPECT_EQ(pipeline::DeadLetterErrorClass("undecodable protobuf"),
            "undecodable");
  EXPECT_EQ(
      pipeline::DeadLetterErrorClass("message key does not match customer_id"),
      "key_mismatch");
  EXPECT_EQ(pipeline::DeadLetterErrorClass("missing event_time_ms"),
            "event_time");
  EXPECT_EQ(
      pipeline::DeadLetterErrorClass("event_time_ms 5 is before the minimum 9"),
      "event_time");
  EXPECT_EQ(pipeline::DeadLetterErrorClass("missing customer_id"),
            "missing_field");
  EXPECT_EQ(pipeline::DeadLetterErrorClass("search.results must be >= 0"),
            "invalid_value");
  EXPECT_EQ(
      pipeline::DeadLetterErrorClass("misrouted: key hashes to partition 3"),
      "misrouted");
}

TEST(PersonalizerMetricsTest, OutcomesByCampaignVariantActionBoundedByRules) {
  PersonalizerMetrics metrics;
  tailor::v1::RulesConfig rules;
  tailor::v1::CampaignCommon* c =
      rules.mutable_first_order_coupon()->mutable_common();
  c->set_name("first_order");
  c->add_variants()->set_name("A");
  metrics.SetMeasuredCampaigns(rules);
  tailor::v1::Outcome o;
  o.set_campaign("first_order");
  o.set_variant("A");
  o.set_action(tailor::v1::DECISION_ACTION_SEND);
  o.set_outcome(tailor::v1::OUTCOME_KIND_CONVERSION);
  metrics.ObserveOutcome(o);
  o.set_variant("B");  // a variant of earlier rules
  metrics.ObserveOutcome(o);
  o.set_campaign("retired_campaign");
  metrics.ObserveOutcome(o);
  const std::string text = Scrape(metrics);
  const std::string prefix =
      R"(tailor_outcomes_total{action="DECISION_ACTION_SEND",)";
  EXPECT_THAT(text, HasSubstr(prefix + R"(campaign="first_order",outcome=)"
                                       R"("OUTCOME_KIND_CONVERSION",)"
                                       R"(variant="A"} 1)"));
  EXPECT_THAT(text, HasSubstr(prefix + R"(campaign="first_order",outcome=)"
                                       R"("OUTCOME_KIND_CONVERSION",)"
                                       R"(variant="other"} 1)"));
  EXPECT_THAT(text, HasSubstr(prefix + R"(campaign="other",outcome=)"
                                       R"("OUTCOME_KIND_CONVERSION",)"
                                       R"(variant="other"} 1)"));
}

TEST(PersonalizerMetricsTest, BuildInfo) {
  PersonalizerMetrics metrics;
  EXPECT_THAT(Scrape(metrics),
              ::testing::ContainsRegex(
                  R"(tailor_build_info\{[^}]*revision="[^"]+"[^}]*\} 1)"));
}

TEST(PersonalizerMetricsTest, DecisionsByCampaignKindActionAndGuard) {
  PersonalizerMetrics metrics;
  tailor::v1::Decision d;
  d.set_campaign("abandoned_cart");
  d.set_kind(tailor::v1::DECISION_KIND_CART_REMINDER);
  d.set_action(tailor::v1::DECISION_ACTION_SUPPRESSED);
  d.set_suppression("quiet_hours");
  metrics.ObserveDecision(d, absl::Milliseconds(300));
  metrics.ObserveDecision(d, std::nullopt);
  const std::string text = Scrape(metrics);
  EXPECT_THAT(text, HasSubstr("tailor_decisions_total{action=\"DECISION_ACTION_"
                              "SUPPRESSED\",campaign=\"abandoned_cart\",kind=\""
                              "DECISION_KIND_CART_REMINDER\"} 2"));
  EXPECT_THAT(text, HasSubstr("tailor_suppressions_total{campaign=\""
                              "abandoned_cart\",guard=\"quiet_hours\"} 2"));
  // Only the decision with a latency is in the histogram.
  EXPECT_THAT(text, HasSubstr("tailor_event_to_decision_seconds_count 1"));
  EXPECT_THAT(
      text,
      HasSubstr("tailor_event_to_decision_seconds_bucket{le=\"0.25\"} 0"));
  EXPECT_THAT(
      text, HasSubstr("tailor_event_to_decision_seconds_bucket{le=\"0.5\"} 1"));
}

TEST(PersonalizerMetricsTest, DeadLettersByClassAndTopic) {
  PersonalizerMetrics metrics;
  pipeline::OutputRecord dl{
      pipeline::OutputKind::kDeadLetter,
      "tailor.dlq",
      -1,
      "k",
      "v",
      {{std::string(pipeline::kHeaderSourceTopic), "orders"},
       {std::string(pipeline::kHeaderError), "undecodable protobuf"}}};
  metrics.ObserveDeadLetter(dl);
  EXPECT_THAT(Scrape(metrics),
              HasSubstr("tailor_dead_letters_total{error_class=\"undecodable\","
                        "source_topic=\"orders\"} 1"));
}

TEST(PersonalizerMetricsTest, MisroutedEventsByTopicStartAtZeroAndFollow) {
  PersonalizerMetrics metrics;
  tailor::v1::TopicsConfig topics;
  topics.set_clickstream("shop.clicks");
  topics.set_orders("shop.orders");
  topics.set_privacy("shop.privacy");
  metrics.SetInputTopics(topics);
  EXPECT_THAT(Scrape(metrics),
              HasSubstr("tailor_misrouted_events_total{topic=\"shop.orders\"}"
                        " 0"));
  pipeline::ProcessorStats stats;
  stats.misrouted_by_topic[tailor::v1::EVENT_TOPIC_ORDERS] = 3;
  metrics.Update(stats, {}, 0, 1, 0);
  stats.misrouted_by_topic[tailor::v1::EVENT_TOPIC_ORDERS] = 5;
  stats.misrouted_by_topic[tailor::v1::EVENT_TOPIC_CLICKSTREAM] = 1;
  metrics.Update(stats, {}, 0, 1, 0);
  const std::string text = Scrape(metrics);
  EXPECT_THAT(text, HasSubstr("tailor_misrouted_events_total{topic=\""
                              "shop.orders\"} 5"));
  EXPECT_THAT(text, HasSubstr("tailor_misrouted_events_total{topic=\""
                              "shop.clicks\"} 1"));
  EXPECT_THAT(text, HasSubstr("tailor_misrouted_events_total{topic=\""
                              "shop.privacy\"} 0"));
}

TEST(PersonalizerMetricsTest, ProfileCacheBytesLimitAndEvictions) {
  PersonalizerMetrics metrics;
  const std::string before = Scrape(metrics);
  EXPECT_THAT(before, HasSubstr("tailor_profile_cache_bytes 0"));
  EXPECT_THAT(before, HasSubstr("tailor_profile_cache_limit_bytes 0"));
  EXPECT_THAT(before, HasSubstr("tailor_profile_cache_evictions_total 0"));
  pipeline::ProcessorStats stats;
  stats.profiles_evicted = 7;
  metrics.Update(stats, {.profiles = 3, .bytes = 4096, .limit_bytes = 16384}, 0,
                 1, 0);
  const std::string text = Scrape(metrics);
  EXPECT_THAT(text, HasSubstr("tailor_cached_profiles 3"));
  EXPECT_THAT(text, HasSubstr("tailor_profile_cache_bytes 4096"));
  EXPECT_THAT(text, HasSubstr("tailor_profile_cache_limit_bytes 16384"));
  EXPECT_THAT(text, HasSubstr("tailor_profile_cache_evictions_total 7"));
}

TEST(PersonalizerMetricsTest, BatchAndCommitHistograms) {
  PersonalizerMetrics metrics;
  metrics.ObserveBatch(absl::Milliseconds(3));
  metrics.ObserveCommit(absl::Milliseconds(40));
  metrics.ObserveCommit(absl::Milliseconds(40));
  const std::string text = Scrape(metrics);
  EXPECT_THAT(text, HasSubstr("tailor_batch_processing_seconds_count 1"));
  EXPECT_THAT(
      text,
      HasSubstr("tailor_batch_processing_seconds_bucket{le=\"0.005\"} 1"));
  EXPECT_THAT(text, HasSubstr("tailor_commit_seconds_count 2"));
  EXPECT_THAT(text, HasSubstr("tailor_commit_seconds_bucket{le=\"0.025\"} 0"));
}

}  // namespace
}  // namespace tailor
