// Kafka's murmur2 against the vectors of Kafka's own UtilsTest and of
// librdkafka's rdmurmur2.c, and the partition a Java producer picks.
#include "libs/base/murmur2.h"

#include <gtest/gtest.h>

#include <string>

namespace tailor {
namespace {

uint32_t JavaInt(int64_t v) { return static_cast<uint32_t>(v); }

TEST(KafkaMurmur2, MatchesKafkaUtilsTestVectors) {
  EXPECT_EQ(KafkaMurmur2("21"), JavaInt(-973932308));
  EXPECT_EQ(KafkaMurmur2("foobar"), JavaInt(-790332482));
  EXPECT_EQ(KafkaMurmur2("a-little-bit-long-string"), JavaInt(-985981536));
  EXPECT_EQ(KafkaMurmur2("a-little-bit-longer-string"), JavaInt(-1486304829));
  EXPECT_EQ(KafkaMurmur2("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"),
            JavaInt(-58897971));
  EXPECT_EQ(KafkaMurmur2("abc"), JavaInt(479470107));
}

TEST(KafkaMurmur2, MatchesEveryTailLength) {
  // One vector per length modulo 4.
  EXPECT_EQ(KafkaMurmur2("1"), JavaInt(-1993445489));
  EXPECT_EQ(KafkaMurmur2("12"), JavaInt(126087238));
  EXPECT_EQ(KafkaMurmur2("123"), JavaInt(-267702483));
  EXPECT_EQ(KafkaMurmur2("1234"), JavaInt(-1614185708));
  EXPECT_EQ(KafkaMurmur2("12345"), JavaInt(-1188365604));
}

TEST(KafkaMurmur2, MatchesLibrdkafkaVectors) {
  EXPECT_EQ(KafkaMurmur2("kafka"), 0xd067cf64u);
  EXPECT_EQ(KafkaMurmur2(""), 0x106e08d9u);
}

TEST(KafkaMurmur2, UsesBytesNotChars) {
  // Bytes >= 0x80 are taken unsigned, as Java's `& 0xff` does.
  const std::string high("\xff\xfe\x80", 3);
  const std::string low("\x7f\x7e\x00", 3);
  EXPECT_NE(KafkaMurmur2(high), KafkaMurmur2(low));
}

TEST(KafkaPartitionForKey, DropsTheSignBitBeforeTheModulo) {
  // murmur2("21") is negative as a Java int: toPositive() clears the sign
  // bit, it does not negate.
  const uint32_t h = KafkaMurmur2("21");
  ASSERT_NE(h & 0x80000000u, 0u);
  EXPECT_EQ(KafkaPartitionForKey("21", 12),
            static_cast<int32_t>((h & 0x7fffffffu) % 12));
  EXPECT_EQ(KafkaPartitionForKey("21", 1), 0);
  for (int32_t n : {1, 2, 3, 12, 64, 1000}) {
    const int32_t p = KafkaPartitionForKey("c-0001234", n);
    EXPECT_GE(p, 0);
    EXPECT_LT(p, n);
  }
}

}  // namespace
}  // namespace tailor
