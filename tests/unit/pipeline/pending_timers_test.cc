// ForEachPendingTimer reads a profile's pending timers from its bytes
// exactly as a full parse sees them.
#include "libs/pipeline/pending_timers.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

#include "tailor/v1/profile.pb.h"

namespace tailor::pipeline {
namespace {

using Seen = std::tuple<int64_t, std::string, std::string>;

std::vector<Seen> Scan(const std::string& bytes, bool* ok) {
  std::vector<Seen> seen;
  *ok = ForEachPendingTimer(bytes, [&](int64_t fire_at_ms,
                                       absl::string_view timer_id,
                                       absl::string_view timer) {
    seen.emplace_back(fire_at_ms, std::string(timer_id), std::string(timer));
  });
  return seen;
}

// What a full parse gives: each timer's fire time, id and serialization.
std::vector<Seen> Parsed(const std::string& bytes) {
  tailor::v1::CustomerProfile profile;
  EXPECT_TRUE(profile.ParseFromString(bytes));
  std::vector<Seen> seen;
  for (const tailor::v1::Timer& t : profile.pending_timers()) {
    seen.emplace_back(t.fire_at_ms(), t.timer_id(), t.SerializeAsString());
  }
  return seen;
}

tailor::v1::CustomerProfile FullProfile() {
  tailor::v1::CustomerProfile p;
  p.set_customer_id("c-17");
  p.mutable_cart()->set_version(3);
  p.mutable_cart()->set_updated_at_ms(1768471200000);
  p.add_messages_sent_at_ms(1768471100000);
  p.add_messages_sent_at_ms(1768471150000);
  tailor::v1::Timer* a = p.add_pending_timers();
  a->set_customer_id("c-17");
  a->set_fire_at_ms(1768474800000);
  a->set_kind(tailor::v1::TIMER_KIND_CART_REMINDER);
  a->set_timer_id("abandoned_cart/1");
  a->set_campaign("abandoned_cart");
  a->set_step(1);
  a->set_trigger_ref(3);
  tailor::v1::Timer* b = p.add_pending_timers();
  b->set_customer_id("c-17");
  b->set_fire_at_ms(-5);  // negative times survive the varint
  b->set_kind(tailor::v1::TIMER_KIND_DEFERRED_DECISION);
  b->set_timer_id("deferred/9");
  b->set_deferred(
      std::string("\x0a\x03"
                  "abc",
                  5));
  return p;
}

TEST(PendingTimers, SameTimersAsAParse) {
  const std::string bytes = FullProfile().SerializeAsString();
  bool ok = false;
  const std::vector<Seen> seen = Scan(bytes, &ok);
  EXPECT_TRUE(ok);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen, Parsed(bytes));
  EXPECT_EQ(std::get<0>(seen[1]), -5);
}

TEST(PendingTimers, NoTimers) {
  tailor::v1::CustomerProfile p = FullProfile();
  p.clear_pending_timers();
  bool ok = false;
  EXPECT_TRUE(Scan(p.SerializeAsString(), &ok).empty());
  EXPECT_TRUE(ok);
  EXPECT_TRUE(Scan("", &ok).empty());
  EXPECT_TRUE(ok);
}

TEST(PendingTimers, UnknownFieldsAreSkipped) {
  std::string bytes = FullProfile().SerializeAsString();
  // Field 999, length-delimited, and field 998, a fixed64.
  bytes += std::string("\xba\x3e\x02xy", 5);
  bytes += std::string(
      "\xb1\x3e"
      "12345678",
      10);
  bool ok = false;
  EXPECT_EQ(Scan(bytes, &ok), Parsed(bytes));
  EXPECT_TRUE(ok);
}

TEST(PendingTimers, LastOccurrenceOfAFieldWins) {
  // One timer element holding its fire time and id twice, as a merge of two
  // serializations would.
  tailor::v1::Timer first;
  first.set_fire_at_ms(100);
  first.set_timer_id("old");
  tailor::v1::Timer second;
  second.set_fire_at_ms(200);
  second.set_timer_id("new");
  const std::string timer =
      first.SerializeAsString() + second.SerializeAsString();
  std::string bytes;
  bytes += static_cast<char>(0xe2);  // field 60, length-delimited
  bytes += static_cast<char>(0x03);
  bytes += static_cast<char>(timer.size());
  bytes += timer;
  bool ok = false;
  const std::vector<Seen> seen = Scan(bytes, &ok);
  EXPECT_TRUE(ok);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(std::get<0>(seen[0]), 200);
  EXPECT_EQ(std::get<1>(seen[0]), "new");
  EXPECT_EQ(std::get<2>(seen[0]), timer);
  tailor::v1::CustomerProfile parsed;
  ASSERT_TRUE(parsed.ParseFromString(bytes));
  EXPECT_EQ(parsed.pending_timers(0).fire_at_ms(), 200);
  EXPECT_EQ(parsed.pending_timers(0).timer_id(), "new");
}

TEST(PendingTimers, MalformedBytesAreRefused) {
  const std::string bytes = FullProfile().SerializeAsString();
  bool ok = true;
  // Cut inside the last timer: the profile is not a whole message.
  Scan(bytes.substr(0, bytes.size() - 3), &ok);
  EXPECT_FALSE(ok);
  Scan(std::string("\xe2\x03\x7f", 3), &ok);  // a length past the end
  EXPECT_FALSE(ok);
  Scan(std::string("\x00", 1), &ok);  // field number 0
  EXPECT_FALSE(ok);
  Scan(std::string("\xe4\x03", 2), &ok);  // an end-group tag
  EXPECT_FALSE(ok);
  // A timer element whose own bytes are malformed.
  Scan(std::string("\xe2\x03\x02\x10\xff", 5), &ok);
  EXPECT_FALSE(ok);
}

}  // namespace
}  // namespace tailor::pipeline
