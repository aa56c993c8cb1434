// File: profile_cache.h
// The bounded in-memory cache of hot customer profiles of one input
// partition. Entries are loaded from the store on a miss, changed in place by
// the fold and the rules, marked dirty, and written back at the next commit.
// Only clean entries are evicted, so nothing unwritten is ever lost.
//
// Owned by a PartitionTask; used from the pipeline thread only.
#ifndef TAILOR_LIBS_PIPELINE_PROFILE_CACHE_H_
#define TAILOR_LIBS_PIPELINE_PROFILE_CACHE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/strings/string_view.h"
#include "tailor/v1/profile.pb.h"

namespace tailor::pipeline {

struct CachedProfile {
  tailor::v1::CustomerProfile profile;
  bool exists = false;     // false: a new customer, or erased in this batch
  bool dirty = false;      // changed since the last commit
  bool erased = false;     // erasure requested since the last commit
  uint64_t last_used = 0;  // batch sequence of the last use, for eviction
  // The prepared commit holding its last write: it stays cached until that
  // commit is durable (a read from the store would miss the write).
  uint64_t pinned_until = 0;
};

class ProfileCache {
 public:
  // Returns the entry for the customer, or nullptr when it is not cached.
  CachedProfile* Find(absl::string_view customer_id);
  // Inserts an empty entry (the caller fills it from the store or leaves it
  // new). The customer must not be cached yet.
  CachedProfile* Insert(absl::string_view customer_id);

  // Visits the dirty entries and marks them clean.
  void DrainDirty(
      absl::FunctionRef<void(const std::string& customer_id, CachedProfile&)>
          fn);

  // Visits every entry.
  void ForEach(absl::FunctionRef<void(const std::string& customer_id,
                                      const CachedProfile&)>
                   fn) const;

  // Drops clean entries least recently used until at most `target` remain.
  // Dirty entries and entries pinned by a commit after `durable_seq` stay.
  // Returns the number evicted.
  size_t EvictTo(size_t target, uint64_t durable_seq);

  size_t size() const { return entries_.size(); }
  size_t dirty_count() const { return dirty_count_; }
  void MarkDirty(CachedProfile* entry);

 private:
  absl::flat_hash_map<std::string, std::unique_ptr<CachedProfile>> entries_;
  std::vector<CachedProfile*> dirty_;
  size_t dirty_count_ = 0;
};

}  // namespace tailor::pipeline

#endif  // TAILOR_LIBS_PIPELINE_PROFILE_CACHE_H_
