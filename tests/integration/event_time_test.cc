// Time through the broker: decisions follow what the customer did, not the
// order in which the consumer happened to read the topics, not the wall
// clock during a catch-up, and not one event stamped in the future.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/integration/harness.h"

namespace tailor::testing {
namespace {

using tailor::v1::Decision;
using tailor::v1::Event;

constexpr int64_t kMinute = 60 * 1000;
constexpr int64_t kHour = 60 * kMinute;

// Views by `n` other customers (no consent: they get no messages), spread
// evenly over [from_ms, to_ms).
std::vector<Event> OtherShoppers(int n, int64_t from_ms, int64_t to_ms) {
  std::vector<Event> out;
  for (int i = 0; i < n; ++i) {
    out.push_back(ProductView(absl::StrCat("other-", i % 400),
                              from_ms + (to_ms - from_ms) * i / n,
                              absl::StrCat("p", i % 50), "cat"));
  }
  return out;
}

int64_t WallMs() { return absl::ToUnixMillis(absl::Now()); }

// The order sits on `orders` behind a clickstream backlog that runs three
// hours past the reminder's due time; it is read after all of that backlog
// has been fetched, and still cancels the reminder.
TEST(EventTime, OrderOnALaggingTopicCancelsTheReminder) {
  Harness h;
  std::vector<Event> clicks = {Consent("c1", kBaseMs)};
  h.SendAll(clicks);
  clicks = {CartAdd("c1", kBaseMs + kMinute, "p2", 30000)};
  for (Event& e :
       OtherShoppers(3000, kBaseMs + 2 * kMinute, kBaseMs + 4 * kHour)) {
    clicks.push_back(std::move(e));
  }
  h.SendAll(clicks);
  h.SendAll({OrderPlaced("c1", kBaseMs + 20 * kMinute, "o1", 30000)});

  auto p = h.StartPipeline(PlainEngine(), [](tailor::v1::ServiceConfig* c) {
    c->set_max_batch_events(100);
  });
  ASSERT_NE(p, nullptr);
  ASSERT_TRUE(h.RunUntil(
      *p, [&] { return p->stats().events == 3003; }, absl::Seconds(60)));
  ASSERT_TRUE(p->Shutdown().ok());
  const std::vector<Decision> decisions = h.ReadDecisions();
  EXPECT_EQ(
      FindDecision(decisions, tailor::v1::DECISION_KIND_CART_REMINDER, "c1"),
      nullptr);
  // The first-order coupon came with the cart add, before the order.
  EXPECT_NE(FindDecision(decisions, tailor::v1::DECISION_KIND_COUPON, "c1"),
            nullptr);
}

// The service was down while a customer filled a cart and emptied it five
// minutes later, among thousands of other events, three hours ago. Coming
// back with the wall clock as time source, it catches up first: the emptied
// cart is folded before the wall clock may move the task, so no reminder.
TEST(EventTime, CatchUpAfterDowntimeSendsNothingForAnEmptiedCart) {
  Harness h;
  const int64_t t0 = WallMs() - 3 * kHour;
  std::vector<Event> events = {Consent("c1", t0),
                               CartAdd("c1", t0 + kMinute, "p2", 30000)};
  for (Event& e : OtherShoppers(3000, t0 + 2 * kMinute, t0 + 10 * kMinute)) {
    events.push_back(std::move(e));
  }
  events.push_back(CartRemove("c1", t0 + 6 * kMinute, "p2"));
  h.SendAll(events);

  auto p = h.StartPipeline(EngineFor(DaylightRules()),
                           [](tailor::v1::ServiceConfig* c) {
                             c->set_time_source(tailor::v1::TIME_SOURCE_WALL);
                             c->set_wall_clock_grace_ms(200);
                             c->set_max_batch_events(100);
                           });
  ASSERT_NE(p, nullptr);
  ASSERT_TRUE(h.RunUntil(
      *p, [&] { return p->stats().events == 3003; }, absl::Seconds(60)));
  // Caught up: now the wall clock moves the task past the cart's reminder
  // time and the timer fires, on an empty cart.
  ASSERT_TRUE(h.RunUntil(*p, [&] { return p->stats().timers_fired >= 1; }));
  ASSERT_TRUE(p->Shutdown().ok());
  EXPECT_EQ(FindDecision(h.ReadDecisions(),
                         tailor::v1::DECISION_KIND_CART_REMINDER, "c1"),
            nullptr);
}

// With the wall clock as time source, a caught-up task's timers fire when
// the wall clock passes them, decided as of their own due time.
TEST(EventTime, WallClockFiresTimersOfACaughtUpTask) {
  Harness h;
  const int64_t t0 = WallMs() - 40 * kMinute;
  h.SendAll({Consent("c1", t0), CartAdd("c1", t0 + kMinute, "p2", 30000)});
  auto p = h.StartPipeline(EngineFor(DaylightRules()),
                           [](tailor::v1::ServiceConfig* c) {
                             c->set_time_source(tailor::v1::TIME_SOURCE_WALL);
                             c->set_wall_clock_grace_ms(200);
                           });
  ASSERT_NE(p, nullptr);
  ASSERT_TRUE(h.RunUntil(*p, [&] { return p->stats().timers_fired >= 1; }));
  ASSERT_TRUE(p->Shutdown().ok());
  const std::vector<Decision> decisions = h.ReadDecisions();
  const Decision* reminder =
      FindDecision(decisions, tailor::v1::DECISION_KIND_CART_REMINDER, "c1");
  ASSERT_NE(reminder, nullptr);
  EXPECT_EQ(reminder->created_at_ms(), t0 + 31 * kMinute);
}

// One event stamped 23 hours ahead (still valid) is folded, but it does not
// move the task's stream time past the wall clock's lead: another
// customer's reminder, due in 20 minutes, does not fire.
TEST(EventTime, AFutureStampedEventDoesNotFireOthersTimers) {
  Harness h;
  const int64_t now = WallMs();
  h.SendAll({Consent("c1", now - 10 * kMinute),
             CartAdd("c1", now - 10 * kMinute, "p2", 30000),
             ProductView("c2", now + 23 * kHour, "p9", "cat")});
  auto p = h.StartPipeline(EngineFor(DaylightRules()),
                           [](tailor::v1::ServiceConfig* c) {
                             c->set_time_source(tailor::v1::TIME_SOURCE_WALL);
                             c->set_wall_clock_grace_ms(100);
                             c->set_max_stream_time_lead_ms(60 * 1000);
                           });
  ASSERT_NE(p, nullptr);
  ASSERT_TRUE(h.RunUntil(*p, [&] { return p->stats().events == 3; }));
  // Give the wall clock time to move the caught-up task (grace 100 ms).
  const absl::Time until = absl::Now() + absl::Seconds(2);
  ASSERT_TRUE(h.RunUntil(*p, [&] { return absl::Now() > until; }));
  EXPECT_EQ(p->stats().timers_fired, 0);
  ASSERT_TRUE(p->Shutdown().ok());
  EXPECT_EQ(FindDecision(h.ReadDecisions(),
                         tailor::v1::DECISION_KIND_CART_REMINDER, "c1"),
            nullptr);
}

// The same timeline, replayed with event time only: the future-stamped
// event is the input's truth and does move stream time.
TEST(EventTime, EventTimeSourceFollowsTheEventsOnly) {
  Harness h;
  h.SendAll({Consent("c1", kBaseMs), CartAdd("c1", kBaseMs, "p2", 30000),
             ProductView("c2", kBaseMs + 23 * kHour, "p9", "cat")});
  auto p = h.StartPipeline(PlainEngine());
  ASSERT_NE(p, nullptr);
  ASSERT_TRUE(h.RunUntil(*p, [&] { return p->stats().timers_fired >= 1; }));
  ASSERT_TRUE(p->Shutdown().ok());
  const Decision* reminder = FindDecision(
      h.ReadDecisions(), tailor::v1::DECISION_KIND_CART_REMINDER, "c1");
  ASSERT_NE(reminder, nullptr);
  EXPECT_EQ(reminder->created_at_ms(), kBaseMs + 30 * kMinute);
}

// Committed group offsets follow the processed input within the commit
// interval, also when nothing new arrives (lag monitoring sees no phantom
// lag after a restart).
TEST(EventTime, GroupOffsetsFollowProcessingWhenIdle) {
  Harness h;
  h.SendAll(OtherShoppers(50, kBaseMs, kBaseMs + kHour));
  {
    auto p = h.StartPipeline(PlainEngine());
    ASSERT_NE(p, nullptr);
    ASSERT_TRUE(h.RunUntil(*p, [&] { return p->stats().events == 50; }));
    // No Shutdown(): a crash after the state write, before any group commit
    // could be relied on.
  }
  auto p = h.StartPipeline(PlainEngine(), [](tailor::v1::ServiceConfig* c) {
    c->set_group_id("tailor-it-2");  // a group that was never told anything
    c->set_commit_interval_ms(200);
  });
  ASSERT_NE(p, nullptr);
  auto committed = [&]() -> int64_t {
    auto consumer = kafka::Consumer::Create(
        {{"bootstrap.servers", h.bootstrap()}, {"group.id", "tailor-it-2"}},
        nullptr);
    if (!consumer.ok()) return -1;
    auto offsets = (*consumer)->Committed(
        {{"clickstream", 0, RD_KAFKA_OFFSET_INVALID}}, absl::Seconds(5));
    return offsets.ok() && !offsets->empty() ? (*offsets)[0].offset : -1;
  };
  ASSERT_TRUE(h.RunUntil(*p, [&] { return p->assigned_partitions() > 0; }));
  ASSERT_TRUE(h.RunUntil(*p, [&] { return committed() == 50; }));
  EXPECT_EQ(p->stats().events, 0);  // nothing was processed again
}

}  // namespace
}  // namespace tailor::testing
