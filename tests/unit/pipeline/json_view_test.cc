#include "libs/pipeline/json_view.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/pipeline/dead_letter.h"
#include "libs/pipeline/records.h"
#include "tailor/v1/decision.pb.h"
#include "tailor/v1/profile.pb.h"

namespace tailor::pipeline {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(JsonViewTest, ObjectsQuoteAndShowUnprintableBytesInBase64) {
  const std::string json = JsonObject()
                               .String("text", "a\"b\n")
                               .Int("n", -3)
                               .Bool("yes", true)
                               .Bytes("key", "c-1")
                               .Bytes("raw", std::string("\xff\x00", 2))
                               .Raw("list", JsonArray({"1", "{}"}))
                               .Done();
  EXPECT_EQ(json, R"({"text":"a\"b\n","n":-3,"yes":true,"key":"c-1",)"
                  R"("raw_base64":"/wA=","list":[1,{}]})");
}

TEST(JsonViewTest, ProtoFieldNamesAndTimersApart) {
  tailor::v1::CustomerProfile profile;
  profile.set_customer_id("c-9");
  profile.set_first_seen_ms(5);
  tailor::v1::Decision deferred;
  deferred.set_decision_id("d-1");
  tailor::v1::Timer* timer = profile.add_pending_timers();
  timer->set_timer_id("t-1");
  timer->set_kind(tailor::v1::TIMER_KIND_DEFERRED_DECISION);
  timer->set_deferred(deferred.SerializeAsString());
  profile.add_pending_timers()->set_timer_id("t-2");

  JsonObject out;
  AddProfileView(profile, &out);
  const std::string json = out.Done();
  EXPECT_THAT(json, HasSubstr(R"("profile":{"customer_id":"c-9",)"
                              R"("first_seen_ms":"5"})"));
  // Fields in field-number order (kind is 3, timer_id 4).
  EXPECT_THAT(json,
              HasSubstr(R"({"timer":{"kind":"TIMER_KIND_DEFERRED_DECISION",)"
                        R"("timer_id":"t-1"},)"
                        R"("deferred_decision":{"decision_id":"d-1"}})"));
  EXPECT_THAT(json, HasSubstr(R"({"timer":{"timer_id":"t-2"}})"));
  EXPECT_THAT(json, Not(HasSubstr("deferred\"")));
}

TEST(DeadLetterTest, TailorsHeadersAreTheOnesTheProcessorAdds) {
  for (absl::string_view h :
       {kHeaderSourceTopic, kHeaderSourcePartition, kHeaderSourceOffset,
        kHeaderError, kHeaderTruncated, kHeaderOriginalKeyBytes,
        kHeaderOriginalValueBytes}) {
    EXPECT_TRUE(IsDeadLetterHeader(h)) << h;
  }
  EXPECT_FALSE(IsDeadLetterHeader(kHeaderSentNs));
  EXPECT_FALSE(IsDeadLetterHeader("trace-id"));
}

}  // namespace
}  // namespace tailor::pipeline
