// A personalizer restarted on the same state directory keeps its profiles
// and timers, resumes where its state ends, and never emits a decision twice
// for the same trigger.
#include <gtest/gtest.h>

#include "absl/container/flat_hash_set.h"
#include "tailor/v1/profile.pb.h"
#include "tests/integration/harness.h"

namespace tailor::testing {
namespace {

constexpr int64_t kMinute = 60 * 1000;

TEST(Restart, KeepsProfilesAndTimersAndDoesNotRepeatDecisions) {
  Harness h;
  auto engine = TestEngine();
  const int64_t reminder_minutes =
      engine->rules().abandoned_cart().first_reminder_minutes();
  ASSERT_GT(reminder_minutes, 0);

  {  // First run: the cart is left.
    auto p = h.StartPipeline(engine);
    ASSERT_NE(p, nullptr);
    h.Send(Consent("c1", kBaseMs));
    h.Send(CartAdd("c1", kBaseMs + kMinute, "p2", 30000));
    ASSERT_TRUE(h.RunUntil(*p, [&] { return p->stats().events == 2; }));
    ASSERT_TRUE(p->Shutdown().ok());
  }
  {  // Second run: the profile and the timer are still there; the timer fires.
    auto p = h.StartPipeline(engine);
    ASSERT_NE(p, nullptr);
    std::string bytes;
    auto found = p->store().GetProfile(0, "c1", &bytes);
    ASSERT_TRUE(found.ok() && *found);
    tailor::v1::CustomerProfile profile;
    ASSERT_TRUE(profile.ParseFromString(bytes));
    EXPECT_EQ(profile.events(), 2);
    EXPECT_EQ(profile.cart().items_size(), 1);

    h.Send(Consent("c2", kBaseMs + (reminder_minutes + 5) * kMinute));
    ASSERT_TRUE(h.RunUntil(*p, [&] {
      return p->stats().events == 1 && p->stats().timers_fired >= 1;
    }));
    ASSERT_TRUE(p->Shutdown().ok());
    // Nothing from the first run was consumed again.
    EXPECT_EQ(p->stats().events, 1);
  }
  {  // Third run: time moves on; the same cart gets no second step-1 reminder.
    auto p = h.StartPipeline(engine);
    ASSERT_NE(p, nullptr);
    h.Send(Consent("c2", kBaseMs + 2 * (reminder_minutes + 5) * kMinute));
    ASSERT_TRUE(h.RunUntil(*p, [&] { return p->stats().events == 1; }));
    ASSERT_TRUE(p->Shutdown().ok());
  }

  std::vector<tailor::v1::Decision> decisions = h.ReadDecisions();
  int step1 = 0;
  absl::flat_hash_set<std::string> ids;
  for (const auto& d : decisions) {
    EXPECT_TRUE(ids.insert(d.decision_id()).second)
        << "decision emitted twice: " << d.ShortDebugString();
    if (d.kind() == tailor::v1::DECISION_KIND_CART_REMINDER &&
        d.cart_reminder().step() == 1) {
      ++step1;
    }
  }
  EXPECT_EQ(step1, 1);
}

}  // namespace
}  // namespace tailor::testing
