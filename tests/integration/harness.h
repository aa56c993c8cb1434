// File: harness.h
// An embedded Kafka cluster (librdkafka's mock cluster, over TCP) with the
// tailor topics, a producer of input events, a reader of output topics and a
// helper that drives a Pipeline until a condition holds. Used by the
// integration tests; each test owns one Harness.
#ifndef TAILOR_TESTS_INTEGRATION_HARNESS_H_
#define TAILOR_TESTS_INTEGRATION_HARNESS_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/decide/engine.h"
#include "libs/kafka/consumer.h"
#include "libs/kafka/mock_cluster.h"
#include "libs/kafka/producer.h"
#include "libs/pipeline/pipeline.h"
#include "tailor/v1/config.pb.h"
#include "tailor/v1/decision.pb.h"
#include "tailor/v1/events.pb.h"

namespace tailor::testing {

// A message read back from an output topic.
struct OutputMessage {
  std::string topic;
  int32_t partition;
  std::string key;
  std::string value;
  std::map<std::string, std::string> headers;
};

class Harness {
 public:
  // Starts a one-broker cluster and creates the default topics with
  // `partitions` partitions each; `state_dir` is a fresh directory.
  explicit Harness(int partitions = 1);
  ~Harness();

  const std::string& bootstrap() const { return cluster_->bootstrap_servers(); }
  kafka::MockCluster& cluster() { return *cluster_; }
  const std::string& state_dir() const { return state_dir_; }

  // A valid service config pointing at this cluster and state dir.
  tailor::v1::ServiceConfig ServiceConfig() const;

  // Produces an event to the topic its payload belongs on, keyed by customer.
  void Send(const tailor::v1::Event& event);
  // Produces events in the order given and waits for them all once.
  void SendAll(const std::vector<tailor::v1::Event>& events);
  // Produces raw bytes to a topic.
  void SendRaw(const std::string& topic, const std::string& key,
               const std::string& value);

  // Starts a pipeline on ServiceConfig(), changed by `tweak` if given.
  std::unique_ptr<pipeline::Pipeline> StartPipeline(
      std::shared_ptr<const decide::Engine> engine,
      const std::function<void(tailor::v1::ServiceConfig*)>& tweak = {});
  // Runs cycles until `done()` or the timeout; returns done().
  bool RunUntil(pipeline::Pipeline& p, const std::function<bool()>& done,
                absl::Duration timeout = absl::Seconds(20));

  // Reads everything available on `topics` (from the beginning) within
  // `settle` of quiet.
  std::vector<OutputMessage> ReadAll(const std::vector<std::string>& topics,
                                     absl::Duration settle = absl::Seconds(2));
  // Every decision, whatever its action: the decisions log.
  std::vector<tailor::v1::Decision> ReadDecisions();

 private:
  std::unique_ptr<kafka::MockCluster> cluster_;
  std::unique_ptr<kafka::Producer> producer_;
  std::string state_dir_;
  int readers_ = 0;
};

// Checks that a decision id that appears more than once always carries the
// same bytes (a redone batch is deterministic); returns the number of
// distinct cart reminders.
int ExpectConsistentDecisionIds(Harness& h);

// Builders for events at a fixed base time (2026-01-15 10:00 UTC).
inline constexpr int64_t kBaseMs = 1768471200000;
tailor::v1::Event MakeEvent(const std::string& customer, int64_t at_ms);
tailor::v1::Event Consent(const std::string& customer, int64_t at_ms);
tailor::v1::Event ProductView(const std::string& customer, int64_t at_ms,
                              const std::string& product,
                              const std::string& category);
tailor::v1::Event CartAdd(const std::string& customer, int64_t at_ms,
                          const std::string& product, int64_t price_minor,
                          int quantity = 1);
tailor::v1::Event CartRemove(const std::string& customer, int64_t at_ms,
                             const std::string& product);
tailor::v1::Event OrderPlaced(const std::string& customer, int64_t at_ms,
                              const std::string& order_id, int64_t total_minor);
// A line of `quantity` x `product` at `price_minor` PLN (category
// "cat-<product>").
tailor::v1::LineItem Line(const std::string& product, int64_t price_minor,
                          int quantity = 1);
// An order of `items`; its total is the sum of the lines.
tailor::v1::Event OrderPlaced(const std::string& customer, int64_t at_ms,
                              const std::string& order_id,
                              const std::vector<tailor::v1::LineItem>& items);
tailor::v1::Event OrderCancelled(const std::string& customer, int64_t at_ms,
                                 const std::string& order_id,
                                 const std::string& reason = "late_delivery");
// A return of `items` (none: a return without line details).
tailor::v1::Event OrderReturned(
    const std::string& customer, int64_t at_ms, const std::string& order_id,
    const std::vector<tailor::v1::LineItem>& items = {},
    const std::string& reason = "damaged");

// Rules for the tests, in text format over DefaultRules().
std::shared_ptr<const decide::Engine> TestEngine();
// The default rules made plain for timelines: a single cart reminder 30
// minutes after the last cart change (24 h window), browse abandonment after
// 3 views, a first-order coupon from 100.00; no holdouts, variants, caps or
// threshold coupon.
std::shared_ptr<const decide::Engine> PlainEngine();
// PlainEngine()'s rules without quiet hours (for timelines on the wall
// clock, which may be in anyone's night, and where nothing may be deferred).
tailor::v1::RulesConfig DaylightRules();
// An engine over `rules` (a test failure if they are invalid).
std::shared_ptr<const decide::Engine> EngineFor(
    const tailor::v1::RulesConfig& rules);

// The first decision of `kind` (for `customer`, unless empty), or null.
const tailor::v1::Decision* FindDecision(
    const std::vector<tailor::v1::Decision>& decisions,
    tailor::v1::DecisionKind kind, const std::string& customer = "");

}  // namespace tailor::testing

#endif  // TAILOR_TESTS_INTEGRATION_HARNESS_H_
