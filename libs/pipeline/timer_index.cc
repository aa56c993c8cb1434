#include "libs/pipeline/timer_index.h"

#include <algorithm>
#include <iterator>
#include <limits>
#include <utility>

#include "libs/base/status_macros.h"

namespace tailor::pipeline {
namespace {

constexpr int64_t kMinTime = std::numeric_limits<int64_t>::min();
constexpr int64_t kMaxTime = std::numeric_limits<int64_t>::max();
// A btree node's share per entry, beyond the entry itself.
constexpr size_t kNodeOverhead = 32;

}  // namespace

size_t TimerIndex::EntryBytes(const Key& key) {
  return kNodeOverhead + sizeof(Key) + key.customer_id.size() +
         key.timer_id.size();
}

void TimerIndex::AddToWindow(const Key& key) {
  if (window_.insert(key).second) window_bytes_ += EntryBytes(key);
}

void TimerIndex::RemoveKey(Key key) {
  if (auto it = window_.find(key); it != window_.end()) {
    window_bytes_ -= EntryBytes(*it);
    window_.erase(it);
  }
  changes_.insert_or_assign(std::move(key), std::nullopt);
}

void TimerIndex::Set(const tailor::v1::Timer& timer,
                     std::optional<int64_t> previous_fire_at_ms) {
  if (previous_fire_at_ms.has_value() &&
      *previous_fire_at_ms != timer.fire_at_ms()) {
    RemoveKey(Key{*previous_fire_at_ms, timer.customer_id(), timer.timer_id()});
  }
  Key key{timer.fire_at_ms(), timer.customer_id(), timer.timer_id()};
  if (timer.fire_at_ms() <= window_end_ms_) {
    AddToWindow(key);
    Shrink();
  } else {
    min_beyond_ms_ = std::min(min_beyond_ms_, timer.fire_at_ms());
  }
  auto [it, inserted] = changes_.try_emplace(std::move(key));
  timer.SerializeToString(&it->second.emplace());
}

void TimerIndex::RemoveAll(
    absl::string_view customer_id,
    const google::protobuf::RepeatedPtrField<tailor::v1::Timer>& timers) {
  for (const tailor::v1::Timer& timer : timers) {
    RemoveKey(
        Key{timer.fire_at_ms(), std::string(customer_id), timer.timer_id()});
  }
}

void TimerIndex::set_window_budget(size_t bytes) {
  window_budget_ = bytes;
  Shrink();
}

void TimerIndex::Shrink() {
  while (window_bytes_ > window_budget_ && !window_.empty()) {
    const int64_t last = std::prev(window_.end())->fire_at_ms;
    // Timers of one fire time stay together: the window ends between two.
    if (window_.begin()->fire_at_ms == last) break;
    while (std::prev(window_.end())->fire_at_ms == last) {
      auto it = std::prev(window_.end());
      window_bytes_ -= EntryBytes(*it);
      window_.erase(it);
    }
    window_end_ms_ = last - 1;
    min_beyond_ms_ = std::min(min_beyond_ms_, last);
  }
}

absl::Status TimerIndex::PopDue(int64_t now_ms, store::ProfileStore& store,
                                std::vector<Key>* due) {
  for (;;) {
    while (!window_.empty() && window_.begin()->fire_at_ms <= now_ms) {
      auto node = window_.extract(window_.begin());
      window_bytes_ -= EntryBytes(node.value());
      changes_.insert_or_assign(node.value(), std::nullopt);
      due->push_back(std::move(node.value()));
    }
    if (!window_.empty() || min_beyond_ms_ > now_ms) return absl::OkStatus();
    if (window_end_ms_ == kMaxTime) {
      min_beyond_ms_ = kMaxTime;
      return absl::OkStatus();
    }
    TAILOR_RETURN_IF_ERROR(Refill(store));
  }
}

int64_t TimerIndex::next_fire_ms() const {
  return window_.empty() ? min_beyond_ms_ : window_.begin()->fire_at_ms;
}

void TimerIndex::MarkPrepared(uint64_t commit_seq) {
  for (auto& [key, timer] : changes_) {
    in_flight_.insert_or_assign(key,
                                std::make_pair(std::move(timer), commit_seq));
  }
  changes_.clear();
}

void TimerIndex::MarkDurable(uint64_t commit_seq) {
  for (auto it = in_flight_.begin(); it != in_flight_.end();) {
    it = it->second.second <= commit_seq ? in_flight_.erase(it) : std::next(it);
  }
}

absl::Status TimerIndex::Refill(store::ProfileStore& store) {
  const int64_t start =
      window_end_ms_ == kMinTime ? kMinTime : window_end_ms_ + 1;
  const Key from{start, {}, {}};
  // The changes not yet durable, merged in key order (the newer wins): they
  // hide or replace what the store holds.
  auto change = changes_.lower_bound(from);
  auto flight = in_flight_.lower_bound(from);
  const auto overlay_done = [&] {
    return change == changes_.end() && flight == in_flight_.end();
  };
  const auto overlay_key = [&]() -> const Key& {
    if (flight == in_flight_.end() ||
        (change != changes_.end() && !(flight->first < change->first))) {
      return change->first;
    }
    return flight->first;
  };
  // Whether the overlay's entry at overlay_key() is a timer (not a
  // deletion), and a step on.
  const auto overlay_take = [&]() -> bool {
    const Key& key = overlay_key();
    const std::optional<std::string>* value;
    if (change != changes_.end() && !(key < change->first)) {
      value = &change->second;
      if (flight != in_flight_.end() && !(key < flight->first)) ++flight;
      ++change;
    } else {
      value = &flight->second.first;
      ++flight;
    }
    return value->has_value();
  };

  const size_t budget = std::max<size_t>(1, window_budget_ / 2);
  std::optional<int64_t> stop_at;  // the first fire time left out
  // Offers the next key in order (`pending`: false for a deletion); false
  // once the window is full, at a change of fire time.
  const auto offer = [&](const Key& key, bool pending) {
    if (!window_.empty() && window_bytes_ >= budget &&
        key.fire_at_ms != std::prev(window_.end())->fire_at_ms) {
      stop_at = key.fire_at_ms;
      return false;
    }
    if (pending) AddToWindow(key);
    return true;
  };

  Key stored;
  TAILOR_RETURN_IF_ERROR(store.ForEachTimerFrom(
      partition_, start,
      [&](int64_t fire_at_ms, absl::string_view customer_id,
          absl::string_view timer_id, absl::string_view) {
        stored.fire_at_ms = fire_at_ms;
        stored.customer_id.assign(customer_id.data(), customer_id.size());
        stored.timer_id.assign(timer_id.data(), timer_id.size());
        while (!overlay_done() && overlay_key() < stored) {
          const Key& key = overlay_key();
          if (!offer(key, overlay_take())) return false;
        }
        if (!overlay_done() && !(stored < overlay_key())) {
          const Key& key = overlay_key();
          return offer(key, overlay_take());  // replaces the stored one
        }
        return offer(stored, true);
      }));
  while (!stop_at.has_value() && !overlay_done()) {
    const Key& key = overlay_key();
    if (!offer(key, overlay_take())) break;
  }
  window_end_ms_ = stop_at.has_value() ? *stop_at - 1 : kMaxTime;
  min_beyond_ms_ = stop_at.value_or(kMaxTime);
  return absl::OkStatus();
}

}  // namespace tailor::pipeline
