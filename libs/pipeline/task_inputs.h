// File: task_inputs.h
// The inputs of one task: partition N of every co-partitioned input topic
// (clickstream, orders, privacy), buffered per topic, released in event-time
// order across them. This is what makes a decision a function of what the
// customer did rather than of which topic the consumer happened to read
// first.
//
//   clickstream[N] ─► queue ─┐
//   orders[N] ──────► queue ─┼─► smallest head first ─► processor
//   privacy[N] ─────► queue ─┘   (ties: privacy, orders, clickstream; then
//                                 offset order within a topic)
//
// A head is released only when every empty input is known to be caught up
// or has been empty longer than max_task_idle_ms; otherwise the task waits
// for it. Caught up means more than "the consumer reached its end": that
// end may come from a fetch sent before the head was produced. It means the
// broker's end, asked after the head arrived, is no further than where the
// consumer is. So a record never passes a record of another input that the
// broker had acknowledged before the head was produced, whichever fetch
// brings what first; the Pipeline asks (EndProbe) for the inputs in
// probe_wanted().
// The watermark is the event time of the last released record: no record
// still to come is expected before it, so timers due before it may fire.
// With the wall clock as a time source, a task whose inputs have all been
// caught up for wall_clock_grace_ms moves its watermark to now minus that
// grace. Records whose time cannot be trusted (undecodable, outside the
// valid range) carry kUntimed: they go out at once and move nothing.
//
// Knows no Kafka beyond holding each record's owning message. Owned by the
// Pipeline, one per open task; used from the pipeline thread only.
#ifndef TAILOR_LIBS_PIPELINE_TASK_INPUTS_H_
#define TAILOR_LIBS_PIPELINE_TASK_INPUTS_H_

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <limits>
#include <vector>

#include "libs/kafka/record.h"
#include "libs/pipeline/records.h"

namespace tailor::pipeline {

// How a task's inputs move its stream time (see ServiceConfig).
struct TaskTimeOptions {
  bool wall_clock = true;  // TIME_SOURCE_WALL; false: event time only.
  int64_t max_task_idle_ms = 30000;  // -1: wait for ever.
  int64_t wall_clock_grace_ms = 5000;
  int64_t max_stream_time_lead_ms = 60000;
};

// The order time of a record that is released at once and moves no clock.
inline constexpr int64_t kUntimed = std::numeric_limits<int64_t>::min();

// One buffered input record: its views, the message that owns them (empty
// when the bytes live elsewhere, as in tests) and the time it is ordered by.
struct BufferedRecord {
  InputRecord input;
  kafka::Record owner;
  int64_t order_time_ms = kUntimed;
  uint64_t arrival = 0;  // the poll that brought it (increasing)
};

class TaskInputs {
 public:
  TaskInputs(const TaskTimeOptions& options, int64_t wall_now_ms);

  // Buffers a record of input `record.input.kind` (records of one input
  // arrive in offset order).
  void Push(BufferedRecord record);
  // The consumer reached the end of input `kind` at `end_offset` (the next
  // offset it would fetch).
  void MarkEnd(tailor::v1::EventTopic kind, int64_t end_offset);
  // The broker's end of input `kind` was `end_offset` when asked after
  // every record with arrival <= `arrival` had been received.
  void MarkBrokerEnd(tailor::v1::EventTopic kind, int64_t end_offset,
                     uint64_t arrival);
  // Forgets everything buffered and known (after the input is rewound).
  void Clear(int64_t wall_now_ms);

  // Appends to *out, in processing order, at most `max` records that may be
  // processed now, and returns the watermark after them (kUntimed until
  // something moved it).
  int64_t Release(int64_t wall_now_ms, size_t max,
                  std::vector<BufferedRecord>* out);

  size_t buffered(tailor::v1::EventTopic kind) const;
  size_t buffered() const;
  // True when input `kind` has nothing buffered and the consumer reached
  // its end.
  bool caught_up(tailor::v1::EventTopic kind) const;
  // The empty inputs that held the last Release() back and whose broker
  // end, asked now, could let it go on (bit 1 << kind).
  uint32_t probe_wanted() const { return probe_wanted_; }
  int64_t watermark_ms() const { return watermark_ms_; }

 private:
  struct Input {
    std::deque<BufferedRecord> queue;
    int64_t fetched_to = -1;          // offset after the last record pushed
    int64_t end_offset = -1;          // offset of the last end reported
    int64_t broker_end = -1;          // the broker's end when last asked
    uint64_t broker_end_arrival = 0;  // ... after this arrival
    int64_t empty_since_ms = 0;
    // Where the consumer is (-1: not known yet).
    int64_t position() const { return std::max(fetched_to, end_offset); }
    bool KnownAtEnd() const {
      return end_offset >= 0 && end_offset >= fetched_to;
    }
  };
  // Whether an empty input no longer holds back a head that arrived at
  // `arrival`.
  bool MayPass(const Input& in, uint64_t arrival, int64_t wall_now_ms) const;

  TaskTimeOptions options_;
  std::array<Input, 4> inputs_;  // indexed by tailor::v1::EventTopic
  int64_t watermark_ms_ = kUntimed;
  int64_t all_caught_up_since_ms_ = -1;
  uint32_t probe_wanted_ = 0;
};

}  // namespace tailor::pipeline

#endif  // TAILOR_LIBS_PIPELINE_TASK_INPUTS_H_
