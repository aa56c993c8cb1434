// TaskInputs: which record a task takes next and when its watermark moves,
// without a broker (the records carry no Kafka message).
#include "libs/pipeline/task_inputs.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace tailor::pipeline {
namespace {

using tailor::v1::EVENT_TOPIC_CLICKSTREAM;
using tailor::v1::EVENT_TOPIC_ORDERS;
using tailor::v1::EVENT_TOPIC_PRIVACY;
using tailor::v1::EventTopic;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr int64_t kNow = 1'800'000'000'000;

BufferedRecord Rec(EventTopic kind, int64_t offset, int64_t time_ms) {
  BufferedRecord r;
  r.input.kind = kind;
  r.input.offset = offset;
  r.order_time_ms = time_ms;
  return r;
}

// "c5" is clickstream offset 5, "o2" orders offset 2, "p0" privacy offset 0.
std::vector<std::string> Names(const std::vector<BufferedRecord>& records) {
  std::vector<std::string> out;
  for (const BufferedRecord& r : records) {
    const char k = r.input.kind == EVENT_TOPIC_CLICKSTREAM ? 'c'
                   : r.input.kind == EVENT_TOPIC_ORDERS    ? 'o'
                                                           : 'p';
    out.push_back(k + std::to_string(r.input.offset));
  }
  return out;
}

TaskTimeOptions EventTime() {
  return TaskTimeOptions{.wall_clock = false, .max_task_idle_ms = 30000};
}

BufferedRecord Rec(EventTopic kind, int64_t offset, int64_t time_ms,
                   uint64_t arrival) {
  BufferedRecord r = Rec(kind, offset, time_ms);
  r.arrival = arrival;
  return r;
}

// The consumer reached `offset` of input `kind`, and the broker, asked
// after the records of `arrival`, says it ends there.
void AtEnd(TaskInputs& t, EventTopic kind, int64_t offset,
           uint64_t arrival = 0) {
  t.MarkEnd(kind, offset);
  t.MarkBrokerEnd(kind, offset, arrival);
}

void EndAll(TaskInputs& t, int64_t c, int64_t o, int64_t p) {
  AtEnd(t, EVENT_TOPIC_CLICKSTREAM, c);
  AtEnd(t, EVENT_TOPIC_ORDERS, o);
  AtEnd(t, EVENT_TOPIC_PRIVACY, p);
}

TEST(TaskInputs, TakesTheSmallestHeadAcrossInputs) {
  TaskInputs t(EventTime(), kNow);
  t.Push(Rec(EVENT_TOPIC_CLICKSTREAM, 0, 100));
  t.Push(Rec(EVENT_TOPIC_CLICKSTREAM, 1, 300));
  t.Push(Rec(EVENT_TOPIC_ORDERS, 0, 200));
  t.Push(Rec(EVENT_TOPIC_PRIVACY, 0, 50));
  EndAll(t, 2, 1, 1);
  std::vector<BufferedRecord> out;
  EXPECT_EQ(t.Release(kNow, 100, &out), 300);
  EXPECT_THAT(Names(out), ElementsAre("p0", "c0", "o0", "c1"));
}

TEST(TaskInputs, TiesGoToPrivacyThenOrdersThenClicksThenOffset) {
  TaskInputs t(EventTime(), kNow);
  t.Push(Rec(EVENT_TOPIC_CLICKSTREAM, 7, 100));
  t.Push(Rec(EVENT_TOPIC_CLICKSTREAM, 8, 100));
  t.Push(Rec(EVENT_TOPIC_ORDERS, 3, 100));
  t.Push(Rec(EVENT_TOPIC_PRIVACY, 4, 100));
  EndAll(t, 9, 4, 5);
  std::vector<BufferedRecord> out;
  t.Release(kNow, 100, &out);
  EXPECT_THAT(Names(out), ElementsAre("p4", "o3", "c7", "c8"));
}

TEST(TaskInputs, WaitsForAnEmptyInputThatIsNotCaughtUp) {
  TaskInputs t(EventTime(), kNow);
  t.Push(Rec(EVENT_TOPIC_CLICKSTREAM, 0, 100));
  t.Push(Rec(EVENT_TOPIC_CLICKSTREAM, 1, 5000));
  AtEnd(t, EVENT_TOPIC_PRIVACY, 0);  // privacy is empty and at its end
  std::vector<BufferedRecord> out;
  // Orders has told nothing yet: a backlog of it may still come.
  EXPECT_EQ(t.Release(kNow + 10, 100, &out), kUntimed);
  EXPECT_THAT(out, IsEmpty());
  // The order arrives (it happened between the two clicks).
  t.Push(Rec(EVENT_TOPIC_ORDERS, 0, 2000));
  t.Release(kNow + 20, 100, &out);
  EXPECT_THAT(Names(out), ElementsAre("c0", "o0"));
  // Orders is empty again and not known at its end: c1 waits.
  out.clear();
  t.Release(kNow + 30, 100, &out);
  EXPECT_THAT(out, IsEmpty());
  AtEnd(t, EVENT_TOPIC_ORDERS, 1);
  EXPECT_EQ(t.Release(kNow + 40, 100, &out), 5000);
  EXPECT_THAT(Names(out), ElementsAre("c1"));
}

TEST(TaskInputs, AnEndBeforeTheLastRecordDoesNotCountAsCaughtUp) {
  TaskInputs t(EventTime(), kNow);
  t.MarkEnd(EVENT_TOPIC_ORDERS, 3);
  AtEnd(t, EVENT_TOPIC_PRIVACY, 0);
  t.Push(Rec(EVENT_TOPIC_ORDERS, 3, 10));  // fetched after that end
  t.Push(Rec(EVENT_TOPIC_CLICKSTREAM, 0, 20));
  std::vector<BufferedRecord> out;
  t.Release(kNow, 100, &out);
  // o3 goes; then orders is empty with an end (3) before what it fetched.
  EXPECT_THAT(Names(out), ElementsAre("o3"));
  EXPECT_FALSE(t.caught_up(EVENT_TOPIC_ORDERS));
  t.MarkEnd(EVENT_TOPIC_ORDERS, 4);
  EXPECT_TRUE(t.caught_up(EVENT_TOPIC_ORDERS));
}

TEST(TaskInputs, AConsumerEndIsNotEnoughForARecordThatArrivedAfterIt) {
  TaskInputs t(EventTime(), kNow);
  AtEnd(t, EVENT_TOPIC_PRIVACY, 0, /*arrival=*/9);
  // The consumer reached the end of orders; then a click arrives (poll 2).
  // That end may come from a fetch sent before the click was produced, so
  // an order produced before the click could still be on its way.
  t.MarkEnd(EVENT_TOPIC_ORDERS, 4);
  t.Push(Rec(EVENT_TOPIC_CLICKSTREAM, 0, 100, /*arrival=*/2));
  std::vector<BufferedRecord> out;
  t.Release(kNow, 100, &out);
  EXPECT_THAT(out, IsEmpty());
  EXPECT_EQ(t.probe_wanted(), 1u << EVENT_TOPIC_ORDERS);
  // The broker's end asked before the click arrived proves nothing.
  t.MarkBrokerEnd(EVENT_TOPIC_ORDERS, 4, /*arrival=*/1);
  t.Release(kNow, 100, &out);
  EXPECT_THAT(out, IsEmpty());
  // Asked after it: orders ends where the consumer is, the click goes.
  t.MarkBrokerEnd(EVENT_TOPIC_ORDERS, 4, /*arrival=*/2);
  EXPECT_EQ(t.Release(kNow, 100, &out), 100);
  EXPECT_THAT(Names(out), ElementsAre("c0"));
  EXPECT_EQ(t.probe_wanted(), 0u);
}

TEST(TaskInputs, ABrokerEndAheadOfTheConsumerWaitsForTheRecords) {
  TaskInputs t(EventTime(), kNow);
  AtEnd(t, EVENT_TOPIC_PRIVACY, 0, /*arrival=*/9);
  t.MarkEnd(EVENT_TOPIC_ORDERS, 4);
  t.Push(Rec(EVENT_TOPIC_CLICKSTREAM, 0, 100, /*arrival=*/2));
  // The broker has an order the consumer has not fetched yet.
  t.MarkBrokerEnd(EVENT_TOPIC_ORDERS, 5, /*arrival=*/2);
  std::vector<BufferedRecord> out;
  t.Release(kNow, 100, &out);
  EXPECT_THAT(out, IsEmpty());
  t.Push(Rec(EVENT_TOPIC_ORDERS, 4, 50, /*arrival=*/3));
  EXPECT_EQ(t.Release(kNow, 100, &out), 100);
  EXPECT_THAT(Names(out), ElementsAre("o4", "c0"));
}

TEST(TaskInputs, NothingToAskBeforeTheConsumerKnowsWhereItIs) {
  TaskInputs t(EventTime(), kNow);
  AtEnd(t, EVENT_TOPIC_PRIVACY, 0, /*arrival=*/9);
  t.Push(Rec(EVENT_TOPIC_CLICKSTREAM, 0, 100, /*arrival=*/1));
  std::vector<BufferedRecord> out;
  t.Release(kNow, 100, &out);
  // Orders has neither a record nor an end: its position is unknown, so a
  // broker end could not be compared with anything.
  EXPECT_EQ(t.probe_wanted(), 0u);
  t.MarkEnd(EVENT_TOPIC_ORDERS, 0);
  t.Release(kNow, 100, &out);
  EXPECT_EQ(t.probe_wanted(), 1u << EVENT_TOPIC_ORDERS);
}

TEST(TaskInputs, StopsWaitingAfterMaxTaskIdle) {
  TaskInputs t(TaskTimeOptions{.wall_clock = false, .max_task_idle_ms = 500},
               kNow);
  AtEnd(t, EVENT_TOPIC_PRIVACY, 0);
  t.Push(Rec(EVENT_TOPIC_CLICKSTREAM, 0, 100));
  std::vector<BufferedRecord> out;
  t.Release(kNow + 499, 100, &out);
  EXPECT_THAT(out, IsEmpty());
  t.Release(kNow + 500, 100, &out);
  EXPECT_THAT(Names(out), ElementsAre("c0"));
}

TEST(TaskInputs, WaitsForEverWithIdleMinusOne) {
  TaskInputs t(TaskTimeOptions{.wall_clock = false, .max_task_idle_ms = -1},
               kNow);
  AtEnd(t, EVENT_TOPIC_PRIVACY, 0);
  t.Push(Rec(EVENT_TOPIC_CLICKSTREAM, 0, 100));
  std::vector<BufferedRecord> out;
  t.Release(kNow + 1'000'000'000, 100, &out);
  EXPECT_THAT(out, IsEmpty());
}

TEST(TaskInputs, UntimedRecordsGoAtOnceAndMoveNothing) {
  TaskInputs t(EventTime(), kNow);
  t.Push(Rec(EVENT_TOPIC_CLICKSTREAM, 0, kUntimed));
  t.Push(Rec(EVENT_TOPIC_CLICKSTREAM, 1, 100));
  std::vector<BufferedRecord> out;
  // Orders and privacy have told nothing, yet the undecodable one goes.
  EXPECT_EQ(t.Release(kNow, 100, &out), kUntimed);
  EXPECT_THAT(Names(out), ElementsAre("c0"));
}

TEST(TaskInputs, ReleasesAtMostMax) {
  TaskInputs t(EventTime(), kNow);
  for (int i = 0; i < 5; ++i) t.Push(Rec(EVENT_TOPIC_ORDERS, i, 10 * i + 1));
  EndAll(t, 0, 5, 0);
  std::vector<BufferedRecord> out;
  EXPECT_EQ(t.Release(kNow, 2, &out), 11);
  EXPECT_THAT(Names(out), ElementsAre("o0", "o1"));
  EXPECT_EQ(t.buffered(), 3u);
}

TEST(TaskInputs, EventTimeIgnoresTheWallClock) {
  TaskInputs t(EventTime(), kNow);
  t.Push(Rec(EVENT_TOPIC_ORDERS, 0, 100));
  EndAll(t, 0, 1, 0);
  std::vector<BufferedRecord> out;
  EXPECT_EQ(t.Release(kNow, 100, &out), 100);
  EXPECT_EQ(t.Release(kNow + 3'600'000, 100, &out), 100);
}

TEST(TaskInputs, WallClockMovesACaughtUpTaskAfterTheGrace) {
  TaskInputs t(TaskTimeOptions{.wall_clock = true,
                               .max_task_idle_ms = -1,
                               .wall_clock_grace_ms = 5000},
               kNow);
  t.Push(Rec(EVENT_TOPIC_ORDERS, 0, 100));
  std::vector<BufferedRecord> out;
  // Not caught up: the wall clock moves nothing, whatever the time.
  AtEnd(t, EVENT_TOPIC_PRIVACY, 0);
  AtEnd(t, EVENT_TOPIC_ORDERS, 1);
  EXPECT_EQ(t.Release(kNow + 100'000, 100, &out), kUntimed);
  AtEnd(t, EVENT_TOPIC_CLICKSTREAM, 0);
  // Caught up from now on; the grace has not passed yet.
  EXPECT_EQ(t.Release(kNow + 200'000, 100, &out), 100);
  EXPECT_EQ(t.Release(kNow + 204'999, 100, &out), 100);
  EXPECT_EQ(t.Release(kNow + 205'000, 100, &out), kNow + 200'000);
  // A new record ends the caught-up period.
  t.Push(Rec(EVENT_TOPIC_CLICKSTREAM, 0, kNow + 200'500));
  EXPECT_EQ(t.Release(kNow + 300'000, 100, &out), kNow + 200'500);
  EXPECT_EQ(t.Release(kNow + 300'001, 100, &out), kNow + 200'500);
}

TEST(TaskInputs, ClearForgetsRecordsAndEnds) {
  TaskInputs t(EventTime(), kNow);
  t.Push(Rec(EVENT_TOPIC_ORDERS, 0, 100));
  EndAll(t, 0, 1, 0);
  t.Clear(kNow);
  EXPECT_EQ(t.buffered(), 0u);
  EXPECT_FALSE(t.caught_up(EVENT_TOPIC_PRIVACY));
}

}  // namespace
}  // namespace tailor::pipeline
