#include "libs/base/keyed_hash.h"

#include <gtest/gtest.h>

namespace tailor {
namespace {

// Expected values from Python: hmac.new(key, data, hashlib.sha256).hexdigest()
TEST(KeyedHashTest, IsHmacSha256InHex) {
  EXPECT_EQ(KeyedHashHex("salt", "c-1"),
            "19611f7c8d5eacc66fd80afc52cc0a7b4bffb1cb605d7104d37e517ec56d6471");
  EXPECT_EQ(KeyedHashHex("", "c-1"),
            "7979fe6ce97400940d8491fc6230954d1754d9e884811e6a457dceaac5450943");
}

TEST(KeyedHashTest, TheKeyChangesTheHash) {
  EXPECT_NE(KeyedHashHex("a", "c-1"), KeyedHashHex("b", "c-1"));
}

}  // namespace
}  // namespace tailor
