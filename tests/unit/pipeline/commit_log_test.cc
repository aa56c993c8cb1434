// The commit pipeline's order, without a broker: commits become durable in
// order whatever the order of their delivery reports; a failed delivery
// stops the line; a reset forgets what was in flight.
#include "libs/pipeline/commit_log.h"

#include <gtest/gtest.h>

namespace tailor::pipeline {
namespace {

using Head = CommitLog::Head;

TEST(CommitLog, DurableWhenSealedAndEveryMessageDelivered) {
  CommitLog log;
  EXPECT_EQ(log.head(), Head::kNone);
  const auto a = log.Open();
  log.Produced(a);
  log.Produced(a);
  log.Delivered(a, true);
  log.Delivered(a, true);
  // Not sealed: more messages may still join it.
  EXPECT_EQ(log.head(), Head::kWaiting);
  log.Seal(a);
  EXPECT_EQ(log.head(), Head::kDurable);
  log.PopHead();
  EXPECT_EQ(log.head(), Head::kNone);
}

TEST(CommitLog, ALaterCommitDeliveredFirstWaitsForTheEarlierOne) {
  CommitLog log;
  const auto a = log.Open();
  log.Produced(a);
  log.Seal(a);
  const auto b = log.Open();
  log.Produced(b);
  log.Seal(b);
  log.Delivered(b, true);  // b's report arrives first
  EXPECT_EQ(log.head(), Head::kWaiting);
  EXPECT_EQ(log.head_seq(), a);
  log.Delivered(a, true);
  EXPECT_EQ(log.head(), Head::kDurable);
  log.PopHead();
  EXPECT_EQ(log.head_seq(), b);
  EXPECT_EQ(log.head(), Head::kDurable);
}

TEST(CommitLog, AFailedDeliveryInTheMiddleStopsTheLine) {
  CommitLog log;
  const auto a = log.Open();
  log.Produced(a);
  log.Seal(a);
  const auto b = log.Open();
  log.Produced(b);
  log.Produced(b);
  log.Seal(b);
  const auto c = log.Open();
  log.Produced(c);
  log.Seal(c);
  log.Delivered(c, true);
  log.Delivered(b, true);
  log.Delivered(b, false);
  log.Delivered(a, true);
  ASSERT_EQ(log.head(), Head::kDurable);  // a is fine
  log.PopHead();
  EXPECT_EQ(log.head(), Head::kFailed);  // b failed: c must not be written
  EXPECT_EQ(log.head_seq(), b);
  EXPECT_EQ(log.in_flight(), 2u);
}

TEST(CommitLog, AnEmptySealedCommitIsDurableAtOnce) {
  CommitLog log;
  log.Seal(log.Open());
  EXPECT_EQ(log.head(), Head::kDurable);
}

TEST(CommitLog, ResetForgetsInFlightAndIgnoresTheirLateReports) {
  CommitLog log;
  const auto a = log.Open();
  log.Produced(a);
  log.Seal(a);
  const auto b = log.Open();  // open when the partition is revoked
  log.Produced(b);
  log.Reset();
  EXPECT_EQ(log.in_flight(), 0u);
  EXPECT_FALSE(log.has_open());
  const auto c = log.Open();
  EXPECT_GT(c, b);
  log.Seal(c);
  log.Delivered(a, false);  // late reports of forgotten commits
  log.Delivered(b, true);
  EXPECT_EQ(log.head(), Head::kDurable);
  EXPECT_EQ(log.head_seq(), c);
}

TEST(CommitLog, OpenCommitCollectsMessagesUntilSealed) {
  CommitLog log;
  const auto a = log.Open();
  EXPECT_TRUE(log.has_open());
  EXPECT_EQ(log.open_seq(), a);
  log.Produced(a);
  log.Seal(a);
  EXPECT_FALSE(log.has_open());
  log.Delivered(a, true);
  EXPECT_EQ(log.head(), Head::kDurable);
}

}  // namespace
}  // namespace tailor::pipeline
