#include "libs/pipeline/task_inputs.h"

#include <algorithm>
#include <utility>

namespace tailor::pipeline {
namespace {

using tailor::v1::EventTopic;

// Tie-break at the same event time: a consent or erasure first, then
// orders (an order cancels what a click at the same instant would start),
// then clicks.
constexpr std::array<EventTopic, 3> kTieOrder = {
    tailor::v1::EVENT_TOPIC_PRIVACY, tailor::v1::EVENT_TOPIC_ORDERS,
    tailor::v1::EVENT_TOPIC_CLICKSTREAM};

}  // namespace

TaskInputs::TaskInputs(const TaskTimeOptions& options, int64_t wall_now_ms)
    : options_(options) {
  for (Input& in : inputs_) in.empty_since_ms = wall_now_ms;
}

void TaskInputs::Push(BufferedRecord record) {
  Input& in = inputs_[record.input.kind & 3];
  in.fetched_to = std::max(in.fetched_to, record.input.offset + 1);
  in.queue.push_back(std::move(record));
  all_caught_up_since_ms_ = -1;
}

void TaskInputs::MarkEnd(EventTopic kind, int64_t end_offset) {
  Input& in = inputs_[kind & 3];
  in.end_offset = std::max(in.end_offset, end_offset);
}

void TaskInputs::MarkBrokerEnd(EventTopic kind, int64_t end_offset,
                               uint64_t arrival) {
  Input& in = inputs_[kind & 3];
  if (arrival < in.broker_end_arrival) return;
  in.broker_end = end_offset;
  in.broker_end_arrival = arrival;
}

void TaskInputs::Clear(int64_t wall_now_ms) {
  for (Input& in : inputs_) {
    in = Input();
    in.empty_since_ms = wall_now_ms;
  }
  all_caught_up_since_ms_ = -1;
}

bool TaskInputs::MayPass(const Input& in, uint64_t arrival,
                         int64_t wall_now_ms) const {
  const int64_t position = in.position();
  if (position >= 0 && in.broker_end >= 0 && in.broker_end <= position &&
      in.broker_end_arrival >= arrival) {
    return true;
  }
  return options_.max_task_idle_ms >= 0 &&
         wall_now_ms - in.empty_since_ms >= options_.max_task_idle_ms;
}

int64_t TaskInputs::Release(int64_t wall_now_ms, size_t max,
                            std::vector<BufferedRecord>* out) {
  probe_wanted_ = 0;
  for (size_t taken = 0; taken < max; ++taken) {
    Input* best = nullptr;
    for (EventTopic kind : kTieOrder) {
      Input& in = inputs_[kind];
      if (in.queue.empty()) continue;
      if (best == nullptr ||
          in.queue.front().order_time_ms < best->queue.front().order_time_ms) {
        best = &in;
      }
    }
    if (best == nullptr) break;
    const int64_t t = best->queue.front().order_time_ms;
    if (t != kUntimed) {
      const uint64_t arrival = best->queue.front().arrival;
      bool blocked = false;
      for (EventTopic kind : kTieOrder) {
        const Input& in = inputs_[kind];
        if (in.queue.empty() && !MayPass(in, arrival, wall_now_ms)) {
          blocked = true;
          // Asking helps once the consumer's position is known.
          if (in.position() >= 0) probe_wanted_ |= 1u << kind;
        }
      }
      if (blocked) break;
      watermark_ms_ = std::max(watermark_ms_, t);
    }
    out->push_back(std::move(best->queue.front()));
    best->queue.pop_front();
    if (best->queue.empty()) best->empty_since_ms = wall_now_ms;
  }

  bool all_caught_up = true;
  for (EventTopic kind : kTieOrder) {
    all_caught_up = all_caught_up && caught_up(kind);
  }
  if (!all_caught_up) {
    all_caught_up_since_ms_ = -1;
  } else if (all_caught_up_since_ms_ < 0) {
    all_caught_up_since_ms_ = wall_now_ms;
  }
  if (options_.wall_clock && all_caught_up_since_ms_ >= 0 &&
      wall_now_ms - all_caught_up_since_ms_ >= options_.wall_clock_grace_ms) {
    watermark_ms_ =
        std::max(watermark_ms_, wall_now_ms - options_.wall_clock_grace_ms);
  }
  return watermark_ms_;
}

size_t TaskInputs::buffered(EventTopic kind) const {
  return inputs_[kind & 3].queue.size();
}

size_t TaskInputs::buffered() const {
  size_t n = 0;
  for (const Input& in : inputs_) n += in.queue.size();
  return n;
}

bool TaskInputs::caught_up(EventTopic kind) const {
  const Input& in = inputs_[kind & 3];
  return in.queue.empty() && in.KnownAtEnd();
}

}  // namespace tailor::pipeline
