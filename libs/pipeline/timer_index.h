// File: timer_index.h
// The pending timers of one input partition, in fire-time order. The
// `timers` column family of the store holds them all; memory holds only a
// window of the keys of the next ones (bounded in bytes) and the changes not
// yet durable. The timer itself is read from its profile when it fires.
//
// Invariant: the window holds every timer due at or before window_end_ms();
// later ones are read from the store (merged with the changes not yet
// durable) when stream time reaches them. Every change made here is queued
// as a store write for the next commit; a timer is identified by
// (customer_id, timer_id), and its owner (the profile's pending_timers)
// knows its fire time, so no per-customer map is kept.
//
// Owned by a PartitionTask; used from the pipeline thread only.
#ifndef TAILOR_LIBS_PIPELINE_TIMER_INDEX_H_
#define TAILOR_LIBS_PIPELINE_TIMER_INDEX_H_

#include <cstdint>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/btree_set.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "libs/store/profile_store.h"
#include "tailor/v1/profile.pb.h"

namespace tailor::pipeline {

class TimerIndex {
 public:
  struct Key {
    int64_t fire_at_ms;
    std::string customer_id;
    std::string timer_id;
    bool operator<(const Key& o) const {
      return std::tie(fire_at_ms, customer_id, timer_id) <
             std::tie(o.fire_at_ms, o.customer_id, o.timer_id);
    }
  };
  // Store changes the next commit must apply, one per key (the last one
  // wins, so a timer moved several times in a batch is written once): a
  // serialized timer to put, or nullopt to delete the key.
  using Changes = absl::btree_map<Key, std::optional<std::string>>;

  TimerIndex(int32_t partition, size_t window_bytes)
      : partition_(partition), window_budget_(window_bytes) {}

  // Sets (or moves) a timer and queues the store change.
  // `previous_fire_at_ms`: the fire time the same (customer, timer id) had
  // until now, if it was pending.
  void Set(const tailor::v1::Timer& timer,
           std::optional<int64_t> previous_fire_at_ms);
  // Removes the given pending timers of `customer_id` (those its profile
  // held) and queues their deletion.
  void RemoveAll(
      absl::string_view customer_id,
      const google::protobuf::RepeatedPtrField<tailor::v1::Timer>& timers);
  // Moves the keys of every timer due at `now_ms` into *due, in fire order,
  // and queues their deletion; reads the next ones from `store` as the
  // window empties.
  [[nodiscard]] absl::Status PopDue(int64_t now_ms, store::ProfileStore& store,
                                    std::vector<Key>* due);

  // A lower bound of the earliest fire time: INT64_MAX when nothing is
  // pending, INT64_MIN before the first look at the store.
  int64_t next_fire_ms() const;

  // The store changes of the next commit. After the commit took them:
  // MarkPrepared(seq) keeps them readable until MarkDurable(seq).
  Changes& pending_changes() { return changes_; }
  const Changes& pending_changes() const { return changes_; }
  void MarkPrepared(uint64_t commit_seq);
  void MarkDurable(uint64_t commit_seq);

  // The bound of the window, and what it holds now.
  void set_window_budget(size_t bytes);
  size_t window_budget() const { return window_budget_; }
  size_t window_size() const { return window_.size(); }
  size_t window_bytes() const { return window_bytes_; }
  int64_t window_end_ms() const { return window_end_ms_; }

  // Approximate memory of one window entry.
  static size_t EntryBytes(const Key& key);

 private:
  void RemoveKey(Key key);
  void AddToWindow(const Key& key);
  // Drops the latest window entries until it fits its budget.
  void Shrink();
  // Reads the timers after window_end_ms_ (the window is empty) from the
  // store merged with the changes not yet durable, up to half the budget.
  absl::Status Refill(store::ProfileStore& store);

  int32_t partition_;
  size_t window_budget_;
  absl::btree_set<Key> window_;
  size_t window_bytes_ = 0;
  int64_t window_end_ms_ = INT64_MIN;
  // No timer after the window fires before this.
  int64_t min_beyond_ms_ = INT64_MIN;
  Changes changes_;
  // Changes taken by a commit that is not durable yet, with its sequence.
  absl::btree_map<Key, std::pair<std::optional<std::string>, uint64_t>>
      in_flight_;
};

}  // namespace tailor::pipeline

#endif  // TAILOR_LIBS_PIPELINE_TIMER_INDEX_H_
