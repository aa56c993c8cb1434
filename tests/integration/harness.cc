#include "tests/integration/harness.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "libs/config/service_config.h"
#include "libs/kafka/admin.h"
#include "libs/profile/validate.h"

namespace tailor::testing {
namespace {

const tailor::v1::TopicsConfig& DefaultTopics() {
  static const auto* topics = [] {
    auto* t = new tailor::v1::TopicsConfig();
    t->set_clickstream("clickstream");
    t->set_orders("orders");
    t->set_privacy("privacy");
    t->set_coupons("decisions.coupons");
    t->set_push("decisions.push");
    t->set_cart_reminders("decisions.cart-reminders");
    t->set_dead_letter("tailor.dlq");
    t->set_changelog("tailor.profiles.changelog");
    t->set_agent_escalations("decisions.agent-escalations");
    t->set_decisions_log("tailor.decisions.log");
    t->set_outcomes("tailor.outcomes");
    t->set_audit("tailor.audit");
    return t;
  }();
  return *topics;
}

}  // namespace

Harness::Harness(int partitions) {
  auto cluster = kafka::MockCluster::Create(1);
  EXPECT_TRUE(cluster.ok()) << cluster.status();
  cluster_ = std::move(*cluster);
  const auto& t = DefaultTopics();
  for (const std::string* name :
       {&t.clickstream(), &t.orders(), &t.privacy(), &t.coupons(), &t.push(),
        &t.cart_reminders(), &t.dead_letter(), &t.changelog(),
        &t.agent_escalations(), &t.decisions_log(), &t.outcomes(),
        &t.audit()}) {
    EXPECT_TRUE(cluster_->CreateTopic(*name, partitions).ok()) << *name;
  }
  // Input producers must place keys as Java's producer does (murmur2).
  auto producer = kafka::Producer::Create({{"bootstrap.servers", bootstrap()},
                                           {"linger.ms", "0"},
                                           {"partitioner", "murmur2_random"}});
  EXPECT_TRUE(producer.ok()) << producer.status();
  producer_ = std::move(*producer);
  char dir[] = "/tmp/tailor-it.XXXXXX";
  state_dir_ = mkdtemp(dir);
}

Harness::~Harness() {
  producer_.reset();
  std::filesystem::remove_all(state_dir_);
}

tailor::v1::ServiceConfig Harness::ServiceConfig() const {
  tailor::v1::ServiceConfig cfg;
  cfg.set_bootstrap_servers(bootstrap());
  cfg.set_group_id("tailor-it");
  cfg.set_state_dir(state_dir_ + "/state");
  *cfg.mutable_topics() = DefaultTopics();
  cfg.set_max_batch_events(500);
  cfg.set_max_batch_ms(20);
  cfg.set_profile_cache_entries(1000);
  cfg.set_block_cache_mb(16);
  cfg.set_write_buffer_mb(8);
  cfg.set_max_event_skew_hours(24);
  cfg.set_min_event_time_ms(946684800000);
  // The tests' events lie at a fixed time in the past: only their own time
  // moves the tasks.
  cfg.set_time_source(tailor::v1::TIME_SOURCE_EVENT);
  config::ApplyServiceDefaults(&cfg);
  return cfg;
}

void Harness::Send(const tailor::v1::Event& event) { SendAll({event}); }

void Harness::SendAll(const std::vector<tailor::v1::Event>& events) {
  for (const tailor::v1::Event& event : events) {
    const std::string topic(
        profile::TopicKindName(profile::TopicOfPayload(event)));
    ASSERT_TRUE(producer_
                    ->Produce(topic, RD_KAFKA_PARTITION_UA, event.customer_id(),
                              event.SerializeAsString())
                    .ok());
  }
  ASSERT_TRUE(producer_->Flush(absl::Seconds(30)).ok());
}

void Harness::SendRaw(const std::string& topic, const std::string& key,
                      const std::string& value) {
  ASSERT_TRUE(
      producer_->Produce(topic, RD_KAFKA_PARTITION_UA, key, value).ok());
  ASSERT_TRUE(producer_->Flush(absl::Seconds(10)).ok());
}

std::unique_ptr<pipeline::Pipeline> Harness::StartPipeline(
    std::shared_ptr<const decide::Engine> engine,
    const std::function<void(tailor::v1::ServiceConfig*)>& tweak) {
  pipeline::PipelineOptions options;
  options.config = ServiceConfig();
  if (tweak) tweak(&options.config);
  // The embedded broker lets a departed member go only at its session
  // timeout, so keep it short for tests that restart the pipeline.
  options.consumer_properties = {{"session.timeout.ms", "6000"},
                                 {"heartbeat.interval.ms", "500"}};
  auto p = pipeline::Pipeline::Create(std::move(options), std::move(engine));
  EXPECT_TRUE(p.ok()) << p.status();
  return p.ok() ? std::move(*p) : nullptr;
}

bool Harness::RunUntil(pipeline::Pipeline& p, const std::function<bool()>& done,
                       absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!done() && absl::Now() < deadline) {
    absl::Status status = p.RunOnce();
    EXPECT_TRUE(status.ok()) << status;
    if (!status.ok()) return false;
  }
  return done();
}

std::vector<OutputMessage> Harness::ReadAll(
    const std::vector<std::string>& topics, absl::Duration settle) {
  auto consumer = kafka::Consumer::Create(
      {{"bootstrap.servers", bootstrap()},
       {"group.id", absl::StrCat("reader-", ++readers_, "-", getpid())},
       {"auto.offset.reset", "earliest"}},
      nullptr);
  EXPECT_TRUE(consumer.ok()) << consumer.status();
  EXPECT_TRUE((*consumer)->Subscribe(topics).ok());
  std::vector<OutputMessage> out;
  std::vector<kafka::Record> records;
  absl::Time quiet_until = absl::Now() + settle + absl::Seconds(3);
  while (absl::Now() < quiet_until) {
    EXPECT_TRUE(
        (*consumer)->PollBatch(1000, absl::Milliseconds(100), &records).ok());
    for (const kafka::Record& r : records) {
      OutputMessage& m = out.emplace_back();
      m.topic = std::string(r.topic());
      m.partition = r.partition();
      m.key = std::string(r.key());
      m.value = std::string(r.value());
      for (const char* name :
           {"tailor-source-topic", "tailor-source-partition",
            "tailor-source-offset", "tailor-error", "tailor-decision-id"}) {
        if (auto h = r.header(name); h.has_value()) {
          m.headers[name] = std::string(*h);
        }
      }
    }
    if (!records.empty()) quiet_until = absl::Now() + settle;
  }
  return out;
}

std::vector<tailor::v1::Decision> Harness::ReadDecisions() {
  const auto& t = DefaultTopics();
  std::vector<tailor::v1::Decision> decisions;
  for (const OutputMessage& m : ReadAll({t.decisions_log()})) {
    tailor::v1::Decision d;
    EXPECT_TRUE(d.ParseFromString(m.value)) << m.topic;
    decisions.push_back(std::move(d));
  }
  return decisions;
}

int ExpectConsistentDecisionIds(Harness& h) {
  absl::flat_hash_map<std::string, std::string> seen;
  int reminders = 0;
  for (const auto& d : h.ReadDecisions()) {
    auto [it, inserted] = seen.emplace(d.decision_id(), d.SerializeAsString());
    if (!inserted) {
      tailor::v1::Decision first;
      first.ParseFromString(it->second);
      EXPECT_EQ(it->second, d.SerializeAsString())
          << "a decision id with two contents: " << d.ShortDebugString()
          << " vs " << first.ShortDebugString();
      continue;
    }
    if (d.kind() == tailor::v1::DECISION_KIND_CART_REMINDER) ++reminders;
  }
  return reminders;
}

tailor::v1::Event MakeEvent(const std::string& customer, int64_t at_ms) {
  tailor::v1::Event e;
  e.set_event_id(absl::StrCat("e-", customer, "-", at_ms));
  e.set_customer_id(customer);
  e.set_event_time_ms(at_ms);
  auto* ctx = e.mutable_context();
  ctx->set_device(tailor::v1::DEVICE_CLASS_MOBILE_WEB);
  ctx->set_locale("pl-PL");
  ctx->set_time_zone("Europe/Warsaw");
  ctx->set_session_id(absl::StrCat("s-", customer));
  return e;
}

tailor::v1::Event Consent(const std::string& customer, int64_t at_ms) {
  tailor::v1::Event e = MakeEvent(customer, at_ms);
  auto* c = e.mutable_consent_updated();
  c->add_granted_channels(tailor::v1::CHANNEL_PUSH);
  c->add_granted_channels(tailor::v1::CHANNEL_EMAIL);
  c->add_granted_channels(tailor::v1::CHANNEL_ONSITE);
  return e;
}

tailor::v1::Event ProductView(const std::string& customer, int64_t at_ms,
                              const std::string& product,
                              const std::string& category) {
  tailor::v1::Event e = MakeEvent(customer, at_ms);
  auto* v = e.mutable_product_view();
  v->set_product_id(product);
  v->set_category_id(category);
  v->mutable_price()->set_minor_units(4999);
  v->mutable_price()->set_currency("PLN");
  return e;
}

tailor::v1::Event CartAdd(const std::string& customer, int64_t at_ms,
                          const std::string& product, int64_t price_minor,
                          int quantity) {
  tailor::v1::Event e = MakeEvent(customer, at_ms);
  auto* item = e.mutable_cart_add()->mutable_item();
  item->set_product_id(product);
  item->set_category_id("cat-" + product);
  item->set_quantity(quantity);
  item->mutable_unit_price()->set_minor_units(price_minor);
  item->mutable_unit_price()->set_currency("PLN");
  return e;
}

tailor::v1::Event CartRemove(const std::string& customer, int64_t at_ms,
                             const std::string& product) {
  tailor::v1::Event e = MakeEvent(customer, at_ms);
  e.mutable_cart_remove()->set_product_id(product);
  return e;
}

tailor::v1::Event OrderPlaced(const std::string& customer, int64_t at_ms,
                              const std::string& order_id,
                              int64_t total_minor) {
  tailor::v1::Event e = MakeEvent(customer, at_ms);
  auto* o = e.mutable_order_placed();
  o->set_order_id(order_id);
  o->mutable_total()->set_minor_units(total_minor);
  o->mutable_total()->set_currency("PLN");
  return e;
}

tailor::v1::LineItem Line(const std::string& product, int64_t price_minor,
                          int quantity) {
  tailor::v1::LineItem item;
  item.set_product_id(product);
  item.set_category_id("cat-" + product);
  item.set_quantity(quantity);
  item.mutable_unit_price()->set_minor_units(price_minor);
  item.mutable_unit_price()->set_currency("PLN");
  return item;
}

tailor::v1::Event OrderPlaced(const std::string& customer, int64_t at_ms,
                              const std::string& order_id,
                              const std::vector<tailor::v1::LineItem>& items) {
  int64_t total = 0;
  for (const tailor::v1::LineItem& item : items) {
    total += item.quantity() * item.unit_price().minor_units();
  }
  tailor::v1::Event e = OrderPlaced(customer, at_ms, order_id, total);
  for (const tailor::v1::LineItem& item : items) {
    *e.mutable_order_placed()->add_items() = item;
  }
  return e;
}

tailor::v1::Event OrderCancelled(const std::string& customer, int64_t at_ms,
                                 const std::string& order_id,
                                 const std::string& reason) {
  tailor::v1::Event e = MakeEvent(customer, at_ms);
  auto* c = e.mutable_order_cancelled();
  c->set_order_id(order_id);
  c->set_reason(reason);
  return e;
}

tailor::v1::Event OrderReturned(const std::string& customer, int64_t at_ms,
                                const std::string& order_id,
                                const std::vector<tailor::v1::LineItem>& items,
                                const std::string& reason) {
  tailor::v1::Event e = MakeEvent(customer, at_ms);
  auto* r = e.mutable_order_returned();
  r->set_order_id(order_id);
  for (const tailor::v1::LineItem& item : items) *r->add_items() = item;
  r->set_reason(reason);
  return e;
}

std::shared_ptr<const decide::Engine> PlainEngine() {
  tailor::v1::RulesConfig rules = decide::DefaultRules();
  auto* cart = rules.mutable_abandoned_cart();
  cart->set_first_reminder_minutes(30);
  cart->set_second_reminder_minutes(0);
  cart->set_window_hours(24);
  rules.mutable_browse_abandonment()->set_min_product_views(3);
  rules.mutable_first_order_coupon()->set_min_cart_value_minor(10000);
  for (auto* common :
       {cart->mutable_common(),
        rules.mutable_browse_abandonment()->mutable_common(),
        rules.mutable_first_order_coupon()->mutable_common(),
        rules.mutable_cart_threshold_coupon()->mutable_common()}) {
    common->set_holdout_percent(0);
    common->clear_variants();
  }
  rules.mutable_cart_threshold_coupon()->mutable_common()->set_enabled(false);
  rules.clear_frequency_caps();
  return EngineFor(rules);
}

tailor::v1::RulesConfig DaylightRules() {
  tailor::v1::RulesConfig rules = PlainEngine()->rules();
  rules.clear_quiet_hours();
  return rules;
}

std::shared_ptr<const decide::Engine> EngineFor(
    const tailor::v1::RulesConfig& rules) {
  auto engine = decide::Engine::Create(rules);
  EXPECT_TRUE(engine.ok()) << engine.status();
  return std::shared_ptr<const decide::Engine>(std::move(*engine));
}

const tailor::v1::Decision* FindDecision(
    const std::vector<tailor::v1::Decision>& decisions,
    tailor::v1::DecisionKind kind, const std::string& customer) {
  for (const tailor::v1::Decision& d : decisions) {
    if (d.kind() == kind && (customer.empty() || d.customer_id() == customer)) {
      return &d;
    }
  }
  return nullptr;
}

std::shared_ptr<const decide::Engine> TestEngine() {
  return EngineFor(decide::DefaultRules());
}

}  // namespace tailor::testing
