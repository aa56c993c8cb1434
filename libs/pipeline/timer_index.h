// File: timer_index.h
// The pending timers of one input partition, in fire-time order. The index
// mirrors the `timers` column family: every change made here is also queued
// as a store write, applied at the next commit. A timer is identified by
// (customer_id, timer_id); setting it again moves it.
//
// Owned by a PartitionTask; used from the pipeline thread only.
#ifndef TAILOR_LIBS_PIPELINE_TIMER_INDEX_H_
#define TAILOR_LIBS_PIPELINE_TIMER_INDEX_H_

#include <cstdint>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"
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
  // timer to put, or nullopt to delete the key.
  using Changes = absl::btree_map<Key, std::optional<tailor::v1::Timer>>;

  // Adds a timer loaded from the store (no store change is queued).
  void Load(tailor::v1::Timer timer);
  // Sets (or moves) a timer and queues the store change.
  void Set(const tailor::v1::Timer& timer);
  // Removes every timer of `customer_id` and queues their deletion (an
  // erasure). Linear in the number of pending timers.
  void RemoveCustomer(absl::string_view customer_id);
  // The same for a set of customers, in one pass over the pending timers.
  void RemoveCustomers(const absl::flat_hash_set<std::string>& customer_ids);
  // Moves every timer due at `now_ms` into *due, in fire order, and queues
  // their deletion.
  void PopDue(int64_t now_ms, std::vector<tailor::v1::Timer>* due);

  // Earliest fire time, or INT64_MAX when empty.
  int64_t next_fire_ms() const;
  size_t size() const { return timers_.size(); }

  Changes& pending_changes() { return changes_; }
  const Changes& pending_changes() const { return changes_; }

 private:
  void Remove(const Key& key);

  absl::btree_map<Key, tailor::v1::Timer> timers_;
  // (customer_id, timer_id) -> fire time, so a re-set timer replaces the old.
  absl::flat_hash_map<std::pair<std::string, std::string>, int64_t> by_id_;
  Changes changes_;
};

}  // namespace tailor::pipeline

#endif  // TAILOR_LIBS_PIPELINE_TIMER_INDEX_H_
