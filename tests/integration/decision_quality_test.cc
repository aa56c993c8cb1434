// Decision quality through the broker: the behaviours libs/decide and
// libs/profile unit-test on scripted profiles, here on customer timelines
// written to Kafka and decided by the real pipeline (event time, RocksDB,
// partitions). Each test reads the decisions back from outside, as a
// subscriber would.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tests/integration/harness.h"

namespace tailor::testing {
namespace {

using tailor::v1::Decision;
using tailor::v1::Event;

constexpr int64_t kMinute = 60 * 1000;
constexpr int64_t kHour = 60 * kMinute;
constexpr int64_t kDay = 24 * kHour;

Event InSession(Event e, const std::string& session) {
  e.mutable_context()->set_session_id(session);
  return e;
}

const tailor::v1::Fact* FindFact(const Decision& d, const std::string& name) {
  for (const tailor::v1::Fact& f : d.facts()) {
    if (f.name() == name) return &f;
  }
  return nullptr;
}

std::string FactOr(const Decision& d, const std::string& name) {
  const tailor::v1::Fact* f = FindFact(d, name);
  return f == nullptr ? "<none>" : f->value();
}

// The decisions of `campaign` for `customer`, in the order they were made
// (created_at_ms; a decision id read twice is kept once).
std::vector<Decision> Of(const std::vector<Decision>& all,
                         const std::string& campaign,
                         const std::string& customer) {
  std::vector<Decision> out;
  std::set<std::string> seen;
  for (const Decision& d : all) {
    if (d.campaign() != campaign || d.customer_id() != customer) continue;
    if (!seen.insert(d.decision_id()).second) continue;
    out.push_back(d);
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const Decision& a, const Decision& b) {
                     return a.created_at_ms() < b.created_at_ms();
                   });
  return out;
}

std::string Summary(const Decision& d) {
  std::string s =
      absl::StrCat(d.campaign(), "@+", (d.created_at_ms() - kBaseMs) / kMinute,
                   "min ", tailor::v1::DecisionAction_Name(d.action()));
  if (!d.suppression().empty()) absl::StrAppend(&s, "/", d.suppression());
  return s;
}

std::string Summaries(const std::vector<Decision>& ds) {
  return absl::StrJoin(ds, "; ", [](std::string* out, const Decision& d) {
    out->append(Summary(d));
  });
}

// --- 1. The agent hand-over pause --------------------------------------------

// A valuable customer (lifetime value 4000.00) returns an order and cancels
// another the same morning: the second incident in 30 days escalates them
// to an agent. For the rest of the day every automated nudge (a
// cart-threshold coupon, a browse push, a cart reminder) is emitted
// SUPPRESSED escalated_to_agent, while a service-recovery coupon for a
// further return is sent. Eight days later (pause_automation_days unset:
// 7) the same nudges are sent again.
TEST(DecisionQuality, EscalationPausesAutomatedNudgesForAWeek) {
  tailor::v1::RulesConfig rules = DaylightRules();
  // The cart-threshold coupon (250.00, once per session) as a nudge.
  rules.mutable_cart_threshold_coupon()->mutable_common()->set_enabled(true);
  // Two service-recovery coupons on one day must not meet a cooldown or a
  // holdout: only the pause may stop them, and it must not.
  auto* recovery_common =
      rules.mutable_service_recovery_coupon()->mutable_common();
  recovery_common->set_cooldown_minutes(0);
  recovery_common->set_holdout_percent(0);
  rules.mutable_human_escalation()->mutable_common()->set_holdout_percent(0);
  // Coupons may stack here: this is about the pause, not the active-coupon
  // rule (the recovery coupon stays active for 30 days).
  rules.mutable_arbitration()->set_max_active_coupons(0);
  // The default pause: unset means 7 days.
  ASSERT_EQ(rules.human_escalation().pause_automation_days(), 7);
  rules.mutable_human_escalation()->clear_pause_automation_days();
  ASSERT_EQ(rules.human_escalation().min_incidents(), 2);
  ASSERT_EQ(rules.human_escalation().min_lifetime_value_minor(), 200000);

  const std::string c = "vip";
  const int64_t t = kBaseMs;  // 10:00 UTC
  const int64_t later = t + 8 * kDay;
  Harness h;
  const std::vector<Event> orders = {
      OrderPlaced(c, t + 1 * kMinute, "o1", 300000),
      OrderPlaced(c, t + 2 * kMinute, "o2", 100000),
      OrderReturned(c, t + 1 * kHour, "o1"),   // incident 1
      OrderCancelled(c, t + 2 * kHour, "o2"),  // incident 2: escalation
      OrderReturned(c, t + 5 * kHour, "o1"),   // a partial return: incident 3
  };
  const std::vector<Event> clicks = {
      // The same day: the cart crosses 250.00 (threshold coupon), the
      // reminder is due 30 minutes later, three views of p9 (browse push).
      CartAdd(c, t + 3 * kHour, "p1", 26000),
      ProductView(c, t + 4 * kHour, "p9", "cat-9"),
      ProductView(c, t + 4 * kHour + kMinute, "p9", "cat-9"),
      ProductView(c, t + 4 * kHour + 2 * kMinute, "p9", "cat-9"),
      CartRemove(c, t + 4 * kHour + 3 * kMinute, "p1"),
      // Eight days later, in a new session: the same nudges again.
      InSession(CartAdd(c, later, "p2", 26000), "s-vip-2"),
      InSession(ProductView(c, later + kHour, "p8", "cat-8"), "s-vip-2"),
      InSession(ProductView(c, later + kHour + kMinute, "p8", "cat-8"),
                "s-vip-2"),
      InSession(ProductView(c, later + kHour + 2 * kMinute, "p8", "cat-8"),
                "s-vip-2"),
      // Another shopper moves stream time past the last reminder.
      ProductView("other", later + 3 * kHour, "p5", "cat-5"),
  };
  h.SendAll({Consent(c, t)});
  h.SendAll(orders);
  h.SendAll(clicks);
  const int kEvents = 1 + static_cast<int>(orders.size() + clicks.size());

  auto p = h.StartPipeline(EngineFor(rules));
  ASSERT_NE(p, nullptr);
  ASSERT_TRUE(h.RunUntil(*p, [&] { return p->stats().events == kEvents; }));
  EXPECT_EQ(p->stats().dead_letters, 0);
  ASSERT_TRUE(p->Shutdown().ok());
  const std::vector<Decision> all = h.ReadDecisions();

  const std::vector<Decision> escalations = Of(all, "human_escalation", c);
  ASSERT_EQ(escalations.size(), 1u) << Summaries(escalations);
  EXPECT_EQ(escalations[0].kind(), tailor::v1::DECISION_KIND_AGENT_ESCALATION);
  EXPECT_EQ(escalations[0].action(), tailor::v1::DECISION_ACTION_SEND);
  EXPECT_EQ(escalations[0].created_at_ms(), t + 2 * kHour);

  // Service recovery: the first return before the escalation is sent; the
  // cancellation's own coupon goes with the escalation (every other
  // candidate of the escalating event is suppressed); the later return,
  // inside the pause, is sent: service recovery is no automated nudge.
  const std::vector<Decision> recovery = Of(all, "service_recovery", c);
  ASSERT_EQ(recovery.size(), 3u) << Summaries(recovery);
  EXPECT_EQ(recovery[0].action(), tailor::v1::DECISION_ACTION_SEND)
      << Summary(recovery[0]);
  EXPECT_EQ(recovery[1].created_at_ms(), t + 2 * kHour);
  EXPECT_EQ(recovery[1].action(), tailor::v1::DECISION_ACTION_SUPPRESSED);
  EXPECT_EQ(recovery[1].suppression(), "escalated_to_agent");
  EXPECT_EQ(recovery[2].created_at_ms(), t + 5 * kHour);
  EXPECT_EQ(recovery[2].action(), tailor::v1::DECISION_ACTION_SEND)
      << Summary(recovery[2]);
  EXPECT_TRUE(recovery[2].has_coupon());

  // Each automated nudge: once the same day, suppressed; once eight days
  // later, sent.
  for (const std::string campaign :
       {"cart_threshold", "abandoned_cart", "browse_abandonment"}) {
    SCOPED_TRACE(campaign);
    const std::vector<Decision> nudges = Of(all, campaign, c);
    ASSERT_EQ(nudges.size(), 2u) << Summaries(nudges);
    EXPECT_LT(nudges[0].created_at_ms(), t + kDay);
    EXPECT_EQ(nudges[0].action(), tailor::v1::DECISION_ACTION_SUPPRESSED)
        << Summary(nudges[0]);
    EXPECT_EQ(nudges[0].suppression(), "escalated_to_agent");
    EXPECT_GE(nudges[1].created_at_ms(), later);
    EXPECT_EQ(nudges[1].action(), tailor::v1::DECISION_ACTION_SEND)
        << Summary(nudges[1]);
  }
  // The suppressed reminder was decided at its own due time.
  EXPECT_EQ(Of(all, "abandoned_cart", c)[0].created_at_ms(),
            t + 3 * kHour + 30 * kMinute);
}

// --- 2. Shop-wide coupon budgets ---------------------------------------------

// 40 consenting customers, spread over both partitions, each earn a
// first-order coupon on the same UTC day; the shop's daily budget is 5.
// Exactly 5 are sent in the whole shop (partition 0 issues its share of 3,
// partition 1 its share of 2), the rest are SUPPRESSED budget_exhausted.
// Small batches and a short commit interval make the budget's usage carry
// over batches and commits.
TEST(DecisionQuality, CouponBudgetIsShopWideAcrossPartitions) {
  tailor::v1::RulesConfig rules = DaylightRules();
  auto* first = rules.mutable_first_order_coupon();
  first->mutable_coupon()->set_daily_budget_count(5);
  first->mutable_coupon()->set_daily_budget_value_minor(0);
  ASSERT_EQ(first->common().holdout_percent(), 0);
  ASSERT_EQ(first->common().variants_size(), 0);

  constexpr int kCustomers = 40;
  Harness h(2);
  std::vector<Event> consents;
  std::vector<Event> carts;
  for (int i = 0; i < kCustomers; ++i) {
    const std::string c = absl::StrCat("shopper-", i);
    const int64_t at = kBaseMs + i * 3 * kMinute;  // 10:00 to 12:00 UTC
    consents.push_back(Consent(c, at));
    carts.push_back(CartAdd(c, at + kMinute, "p1", 15000));
  }
  h.SendAll(consents);
  h.SendAll(carts);

  auto p = h.StartPipeline(EngineFor(rules), [](tailor::v1::ServiceConfig* c) {
    c->set_max_batch_events(7);
    c->set_commit_interval_ms(50);
  });
  ASSERT_NE(p, nullptr);
  ASSERT_TRUE(h.RunUntil(
      *p, [&] { return p->stats().events == 2 * kCustomers; },
      absl::Seconds(40)));
  ASSERT_TRUE(p->Shutdown().ok());

  // Which partition each customer's events were on, and their coupons.
  std::map<std::string, int> partition_of;
  std::map<std::string, Decision> coupons;  // by decision id
  for (const OutputMessage& m :
       h.ReadAll({"clickstream", "tailor.decisions.log"})) {
    if (m.topic == "clickstream") {
      partition_of[m.key] = m.partition;
      continue;
    }
    Decision d;
    ASSERT_TRUE(d.ParseFromString(m.value));
    if (d.campaign() == "first_order") coupons[d.decision_id()] = d;
  }
  ASSERT_EQ(partition_of.size(), static_cast<size_t>(kCustomers));

  std::map<int, int> customers_per_partition;
  for (const auto& [customer, partition] : partition_of) {
    ++customers_per_partition[partition];
  }
  // Both partitions have more customers than their share.
  ASSERT_GE(customers_per_partition[0], 4);
  ASSERT_GE(customers_per_partition[1], 3);

  std::map<int, int> sent;
  std::map<int, int> exhausted;
  std::set<std::string> decided;
  for (const auto& [id, d] : coupons) {
    SCOPED_TRACE(Summary(d));
    EXPECT_TRUE(decided.insert(d.customer_id()).second)
        << "two first-order coupons for " << d.customer_id();
    ASSERT_TRUE(partition_of.contains(d.customer_id()));
    const int partition = partition_of[d.customer_id()];
    if (d.action() == tailor::v1::DECISION_ACTION_SEND) {
      ++sent[partition];
      EXPECT_FALSE(d.coupon().code().empty());
    } else {
      EXPECT_EQ(d.action(), tailor::v1::DECISION_ACTION_SUPPRESSED);
      EXPECT_EQ(d.suppression(), "budget_exhausted");
      ++exhausted[partition];
    }
  }
  EXPECT_EQ(decided.size(), static_cast<size_t>(kCustomers));
  EXPECT_EQ(sent[0] + sent[1], 5) << "the shop's budget is 5";
  EXPECT_EQ(sent[0], 3);
  EXPECT_EQ(sent[1], 2);
  EXPECT_EQ(exhausted[0], customers_per_partition[0] - 3);
  EXPECT_EQ(exhausted[1], customers_per_partition[1] - 2);
}

// --- 3. Recommendations never name a bought product --------------------------

// A customer bought 30 distinct products in one order (more than the 20
// recent purchases a profile keeps by id), then browses a catalogue of
// bought and unbought products, the bought ones last (so newest, first in
// line for recommendations), among them the 10 oldest purchases that only
// the purchased-product set remembers. The browse push and the cart
// reminder that follow recommend products, and none of them was bought. A
// window shopper who browses the same way without the order is recommended
// those very products: the filter, not the catalogue, keeps them out.
TEST(DecisionQuality, RecommendationsNeverNameABoughtProduct) {
  const tailor::v1::RulesConfig rules = DaylightRules();
  ASSERT_EQ(rules.profile().recent_products(), 20);
  const std::string c = "buyer";
  const std::string control = "window-shopper";
  const int64_t t = kBaseMs;

  std::vector<tailor::v1::LineItem> lines;
  std::set<std::string> bought;
  for (int i = 0; i < 30; ++i) {
    const std::string product = absl::StrCat("bought-", i < 10 ? "0" : "", i);
    lines.push_back(Line(product, 1000 + i));
    bought.insert(product);
  }
  std::set<std::string> unbought = {"wanted"};
  // Every product in a category of its own: no category nudge comes first
  // (and sets the browse push's cooldown).
  auto browse = [&](const std::string& customer) {
    std::vector<Event> clicks;
    int64_t at = t + kHour;
    for (int i = 0; i < 6; ++i) {
      const std::string product = absl::StrCat("new-", i);
      unbought.insert(product);
      clicks.push_back(
          ProductView(customer, at += kMinute, product, "cat-" + product));
    }
    // The ten oldest purchases (no longer in purchased_product_ids), then
    // two recent ones.
    for (int i : {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 28, 29}) {
      clicks.push_back(ProductView(customer, at += kMinute,
                                   lines[i].product_id(),
                                   lines[i].category_id()));
    }
    // Three views of an unbought product: a browse push.
    for (int i = 0; i < 3; ++i) {
      clicks.push_back(
          ProductView(customer, at += kMinute, "wanted", "cat-wanted"));
    }
    // A cart: a reminder 30 minutes later.
    clicks.push_back(CartAdd(customer, at += kMinute, "in-cart", 4000));
    return clicks;
  };
  Harness h;
  h.SendAll({Consent(c, t), Consent(control, t)});
  h.SendAll({OrderPlaced(c, t + kMinute, "big-order", lines)});
  std::vector<Event> clicks = browse(c);
  for (Event& e : browse(control)) clicks.push_back(std::move(e));
  // Another shopper's view fires the reminders.
  clicks.push_back(ProductView("other", t + 5 * kHour, "p5", "cat-5"));
  h.SendAll(clicks);
  const int kEvents = 3 + static_cast<int>(clicks.size());

  auto p = h.StartPipeline(EngineFor(rules));
  ASSERT_NE(p, nullptr);
  ASSERT_TRUE(h.RunUntil(*p, [&] { return p->stats().events == kEvents; }));
  EXPECT_EQ(p->stats().dead_letters, 0);
  ASSERT_TRUE(p->Shutdown().ok());
  const std::vector<Decision> all = h.ReadDecisions();

  const std::vector<Decision> pushes = Of(all, "browse_abandonment", c);
  const std::vector<Decision> reminders = Of(all, "abandoned_cart", c);
  ASSERT_EQ(pushes.size(), 1u) << Summaries(pushes);
  ASSERT_EQ(reminders.size(), 1u) << Summaries(reminders);
  EXPECT_EQ(pushes[0].action(), tailor::v1::DECISION_ACTION_SEND);
  EXPECT_EQ(pushes[0].push().product_id(), "wanted");
  EXPECT_EQ(reminders[0].action(), tailor::v1::DECISION_ACTION_SEND);

  const auto& from_push = pushes[0].push().recommended_product_ids();
  const auto& from_reminder =
      reminders[0].cart_reminder().recommended_product_ids();
  for (const auto* recommended : {&from_push, &from_reminder}) {
    const std::string list = absl::StrJoin(*recommended, ",");
    // Not vacuous: the catalogue has unbought products to recommend.
    EXPECT_EQ(recommended->size(), 3) << list;
    for (const std::string& id : *recommended) {
      EXPECT_FALSE(bought.contains(id)) << id << " was bought: " << list;
      EXPECT_TRUE(unbought.contains(id)) << id << " is unknown: " << list;
      EXPECT_NE(id, "in-cart") << list;
    }
  }
  for (const std::string& id : from_push) EXPECT_NE(id, "wanted");

  // The window shopper, newest views first: bought-29 and bought-28 (among
  // the buyer's recent purchases by id) and bought-09 (only in the buyer's
  // purchased-product set).
  const std::vector<Decision> control_pushes =
      Of(all, "browse_abandonment", control);
  ASSERT_EQ(control_pushes.size(), 1u) << Summaries(control_pushes);
  EXPECT_EQ(
      absl::StrJoin(control_pushes[0].push().recommended_product_ids(), ","),
      "bought-29,bought-28,bought-09");
}

// --- 4. Old cart lines do not linger -----------------------------------------

// A customer carts A (300.00), gets a reminder, leaves for 30 days (beyond
// the 24-hour cart window) and comes back to cart B (40.00). The reminder
// for the new cart lists only B and is worth B's price, though A is still
// in the cart.
TEST(DecisionQuality, ReminderListsOnlyLinesInsideTheCartWindow) {
  const tailor::v1::RulesConfig rules = DaylightRules();
  ASSERT_EQ(rules.abandoned_cart().window_hours(), 24);
  const std::string c = "returner";
  const int64_t t = kBaseMs;
  const int64_t back = t + 30 * kDay;
  Harness h;
  h.SendAll({Consent(c, t)});
  h.SendAll({
      CartAdd(c, t + kMinute, "A", 30000),
      InSession(CartAdd(c, back, "B", 4000), "s-returner-2"),
      ProductView("other", back + 2 * kHour, "p5", "cat-5"),
  });

  auto p = h.StartPipeline(EngineFor(rules));
  ASSERT_NE(p, nullptr);
  ASSERT_TRUE(h.RunUntil(*p, [&] { return p->stats().events == 4; }));
  ASSERT_TRUE(p->Shutdown().ok());
  const std::vector<Decision> reminders =
      Of(h.ReadDecisions(), "abandoned_cart", c);
  ASSERT_EQ(reminders.size(), 2u) << Summaries(reminders);

  // The first cart's reminder, 30 minutes after A was carted: A.
  const Decision& first = reminders[0];
  EXPECT_EQ(first.created_at_ms(), t + 31 * kMinute);
  ASSERT_EQ(first.cart_reminder().items_size(), 1);
  EXPECT_EQ(first.cart_reminder().items(0).product_id(), "A");

  // After 30 days: only B, and B's value, not the cart's 340.00.
  const Decision& second = reminders[1];
  EXPECT_EQ(second.action(), tailor::v1::DECISION_ACTION_SEND);
  EXPECT_EQ(second.created_at_ms(), back + 30 * kMinute);
  ASSERT_EQ(second.cart_reminder().items_size(), 1)
      << second.cart_reminder().ShortDebugString();
  EXPECT_EQ(second.cart_reminder().items(0).product_id(), "B");
  EXPECT_EQ(second.cart_reminder().cart_value().minor_units(), 4000);
  EXPECT_EQ(second.cart_reminder().cart_value().currency(), "PLN");
  EXPECT_EQ(FactOr(second, "cart_value_minor"), "4000");
  EXPECT_EQ(FactOr(second, "cart_items"), "1");
  EXPECT_EQ(FactOr(second, "cart_items_outside_window"), "1");
}

}  // namespace
}  // namespace tailor::testing
