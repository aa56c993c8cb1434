// Bad input goes to the dead-letter topic with its original bytes and
// headers naming the source and the error; the service keeps going.
#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "tests/integration/harness.h"

namespace tailor::testing {
namespace {

TEST(DeadLetter, MalformedEventsLandInTheDlqWithHeaders) {
  Harness h;
  auto p = h.StartPipeline(TestEngine());
  ASSERT_NE(p, nullptr);

  const std::string garbage("not a protobuf \xff\xfe\x01", 18);
  tailor::v1::Event no_customer = Consent("c1", kBaseMs);
  no_customer.clear_customer_id();
  tailor::v1::Event wrong_topic = OrderPlaced("c1", kBaseMs, "o1", 100);
  tailor::v1::Event far_future = ProductView("c1", 4102444800000, "p", "c");

  h.SendRaw("clickstream", "k1", garbage);
  h.SendRaw("clickstream", "", no_customer.SerializeAsString());
  h.SendRaw("clickstream", "c1", wrong_topic.SerializeAsString());
  h.SendRaw("clickstream", "c1", far_future.SerializeAsString());
  h.Send(ProductView("c1", kBaseMs, "p1", "shoes"));

  ASSERT_TRUE(h.RunUntil(*p, [&] {
    return p->stats().dead_letters == 4 && p->stats().events == 1;
  }));
  ASSERT_TRUE(p->Shutdown().ok());

  std::vector<OutputMessage> dlq = h.ReadAll({"tailor.dlq"});
  ASSERT_EQ(dlq.size(), 4u);
  const std::vector<std::pair<std::string, std::string>> expected = {
      {garbage, "undecodable"},
      {no_customer.SerializeAsString(), "customer_id"},
      {wrong_topic.SerializeAsString(), "does not belong"},
      {far_future.SerializeAsString(), "future"},
  };
  for (size_t i = 0; i < dlq.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(dlq[i].value, expected[i].first);
    EXPECT_EQ(dlq[i].headers["tailor-source-topic"], "clickstream");
    EXPECT_EQ(dlq[i].headers["tailor-source-partition"], "0");
    EXPECT_EQ(dlq[i].headers["tailor-source-offset"], std::to_string(i));
    EXPECT_TRUE(
        absl::StrContains(dlq[i].headers["tailor-error"], expected[i].second))
        << dlq[i].headers["tailor-error"];
  }
  EXPECT_EQ(dlq[0].key, "k1");
}

}  // namespace
}  // namespace tailor::testing
