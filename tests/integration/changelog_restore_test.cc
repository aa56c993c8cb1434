// The local RocksDB is a cache of the changelog: an instance that starts
// with an empty state directory restores profiles, timers and input
// positions from the changelog before processing.
#include <gtest/gtest.h>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "libs/pipeline/changelog.h"
#include "tailor/v1/profile.pb.h"
#include "tests/integration/harness.h"

namespace tailor::testing {
namespace {

constexpr int64_t kMinute = 60 * 1000;

void UseStateDir(const std::string& dir, tailor::v1::ServiceConfig* cfg) {
  cfg->set_state_dir(dir);
}

TEST(ChangelogRestore, EmptyStateDirRestoresProfilesTimersAndPositions) {
  Harness h;
  auto engine = TestEngine();
  const int64_t reminder_minutes =
      engine->rules().abandoned_cart().first_reminder_minutes();
  const std::string first_dir = h.state_dir() + "/first";
  const std::string second_dir = h.state_dir() + "/second";

  {  // First instance: c1 leaves a cart; c2..c20 browse.
    auto p = h.StartPipeline(engine,
                             [&](auto* cfg) { UseStateDir(first_dir, cfg); });
    ASSERT_NE(p, nullptr);
    h.Send(Consent("c1", kBaseMs));
    h.Send(CartAdd("c1", kBaseMs + kMinute, "p2", 30000));
    for (int i = 2; i <= 20; ++i) {
      h.Send(
          ProductView(absl::StrCat("c", i), kBaseMs + i * 1000, "p9", "books"));
    }
    ASSERT_TRUE(h.RunUntil(*p, [&] { return p->stats().events == 21; }));
    ASSERT_TRUE(p->Shutdown().ok());
  }

  // Second instance, empty disk: restores, then only new events are folded.
  auto p =
      h.StartPipeline(engine, [&](auto* cfg) { UseStateDir(second_dir, cfg); });
  ASSERT_NE(p, nullptr);
  h.Send(Consent("c21", kBaseMs + (reminder_minutes + 5) * kMinute));
  ASSERT_TRUE(h.RunUntil(*p, [&] {
    return p->stats().events == 1 && p->stats().timers_fired >= 1;
  }));
  // Write what is in flight (commits are written every commit interval).
  ASSERT_TRUE(p->Shutdown().ok());

  int profiles = 0;
  ASSERT_TRUE(p->store()
                  .ForEachProfile(0,
                                  [&](absl::string_view, absl::string_view) {
                                    ++profiles;
                                    return true;
                                  })
                  .ok());
  EXPECT_EQ(profiles, 21);
  std::string bytes;
  auto found = p->store().GetProfile(0, "c1", &bytes);
  ASSERT_TRUE(found.ok() && *found);
  tailor::v1::CustomerProfile c1;
  ASSERT_TRUE(c1.ParseFromString(bytes));
  EXPECT_EQ(c1.events(), 2);
  EXPECT_EQ(c1.cart().items_size(), 1);
  // Nothing was folded twice: the first run's events came from the
  // restored input positions, not from the start of the topics.
  EXPECT_EQ(p->stats().events, 1);

  int reminders = 0;
  for (const auto& d : h.ReadDecisions()) {
    if (d.kind() == tailor::v1::DECISION_KIND_CART_REMINDER &&
        d.customer_id() == "c1") {
      ++reminders;
    }
  }
  EXPECT_EQ(reminders, 1);  // the restored timer fired, once
}

TEST(ChangelogRestore, ChangelogCarriesCheckpointsAndTombstones) {
  Harness h;
  auto p = h.StartPipeline(TestEngine());
  ASSERT_NE(p, nullptr);
  h.Send(ProductView("c1", kBaseMs, "p1", "shoes"));
  ASSERT_TRUE(h.RunUntil(*p, [&] { return p->stats().events == 1; }));
  tailor::v1::Event erase = MakeEvent("c1", kBaseMs + kMinute);
  erase.mutable_erasure_requested()->set_request_id("r1");
  h.Send(erase);
  ASSERT_TRUE(h.RunUntil(*p, [&] { return p->stats().events == 2; }));
  ASSERT_TRUE(p->Shutdown().ok());

  bool tombstone = false;
  bool checkpoint = false;
  for (const OutputMessage& m : h.ReadAll({"tailor.profiles.changelog"})) {
    if (m.key == pipeline::kCheckpointKey) {
      tailor::v1::PartitionCheckpoint c;
      ASSERT_TRUE(c.ParseFromString(m.value));
      checkpoint = c.positions_size() > 0;
    } else {
      EXPECT_EQ(m.key, "c1");
      tombstone = m.value.empty();  // the last record of c1
    }
  }
  EXPECT_TRUE(checkpoint);
  EXPECT_TRUE(tombstone);
}

}  // namespace
}  // namespace tailor::testing
