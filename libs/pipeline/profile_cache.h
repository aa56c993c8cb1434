// File: profile_cache.h
// The bounded in-memory cache of hot customer profiles of one input
// partition. Entries are loaded from the store on a miss, changed in place by
// the fold and the rules, marked dirty, and written back at the next commit.
// Only clean entries are evicted, so nothing unwritten is ever lost.
//
// The cache is bounded twice, by entries and by bytes; EvictTo() enforces
// both. The bytes are an estimate charged per entry (ChargeFor): the
// profile's serialized size, known when it is read from the store and when
// the processor serializes it for a commit, times kInMemoryFactor, plus the
// key and the entry itself. A profile changed since it was last measured is
// charged its last measured size until the next commit re-measures it.
//
// Eviction order is least recently used: the entries form an intrusive
// doubly linked list, Insert() and Touch() move an entry to the hot end in
// O(1), and EvictTo() walks from the cold end.
//
// Owned by a PartitionTask; used from the pipeline thread only.
#ifndef TAILOR_LIBS_PIPELINE_PROFILE_CACHE_H_
#define TAILOR_LIBS_PIPELINE_PROFILE_CACHE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/node_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/strings/string_view.h"
#include "tailor/v1/profile.pb.h"

namespace tailor::pipeline {

struct CachedProfile {
  tailor::v1::CustomerProfile profile;
  bool exists = false;  // false: a new customer, or erased in this batch
  bool dirty = false;   // changed since the last commit
  bool erased = false;  // erasure requested since the last commit
  // The prepared commit holding its last write: it stays cached until that
  // commit is durable (a read from the store would miss the write).
  uint64_t pinned_until = 0;

  // ProfileCache's bookkeeping; nothing else writes these.
  const std::string* key = nullptr;  // the map's key (stable: a node map)
  size_t charge = 0;                 // bytes counted in ProfileCache::bytes()
  CachedProfile* hotter = nullptr;   // LRU neighbours; null at the ends
  CachedProfile* colder = nullptr;
};

class ProfileCache {
 public:
  // Heap bytes of a parsed CustomerProfile per byte of its serialized form,
  // measured (tests/unit/pipeline/profile_cache_test.cc: glibc's heap in
  // use after parsing copies, protobuf 3.21) for the profiles most customers
  // have: 5.3 for one view, 5.9 for a shopper with affinities, recent
  // products, a small cart and a few decisions. Profiles of many tiny
  // elements take more (a full cart of short ids: 9.0) and profiles of long
  // ids less (an order of 1000 UUIDs: 2.7; a full cart of 128-byte ids:
  // 2.1), so a large profile is charged between a third under and three
  // times over its heap; the test fails if a shape leaves that band.
  static constexpr size_t kInMemoryFactor = 6;
  // What an entry costs besides its profile's heap: the map node (key and
  // CachedProfile, with the CustomerProfile object itself), malloc's header
  // and the map's slot.
  static constexpr size_t kEntryOverhead =
      sizeof(std::pair<const std::string, CachedProfile>) + 16 + sizeof(void*);

  // The bytes charged for an entry whose profile serializes to
  // `serialized_bytes`, under a key of `key_bytes`.
  static size_t ChargeFor(size_t key_bytes, size_t serialized_bytes) {
    return serialized_bytes * kInMemoryFactor + key_bytes + kEntryOverhead;
  }

  ProfileCache() = default;
  ProfileCache(const ProfileCache&) = delete;
  ProfileCache& operator=(const ProfileCache&) = delete;

  // Returns the entry for the customer, or nullptr when it is not cached.
  // Does not count as a use (see Touch).
  CachedProfile* Find(absl::string_view customer_id);
  // Inserts an empty entry, the most recently used (the caller fills it from
  // the store or leaves it new). The customer must not be cached yet.
  CachedProfile* Insert(absl::string_view customer_id);
  // Makes `entry` the most recently used. O(1).
  void Touch(CachedProfile* entry);
  // Charges `entry` for a profile of `serialized_bytes` (its size as read
  // from the store or as just serialized for a commit).
  void Measure(CachedProfile* entry, size_t serialized_bytes);

  // Visits the dirty entries and marks them clean.
  void DrainDirty(
      absl::FunctionRef<void(const std::string& customer_id, CachedProfile&)>
          fn);

  // Visits every entry.
  void ForEach(absl::FunctionRef<void(const std::string& customer_id,
                                      const CachedProfile&)>
                   fn) const;

  // Drops clean entries, least recently used first, until at most
  // `max_entries` remain and they hold at most `max_bytes`, or until only
  // entries that must stay are left: dirty ones and those pinned by a
  // commit after `durable_seq`. Walks from the cold end and stops there, so
  // it visits the evicted entries and the ones it must skip, never the
  // whole cache. Returns the number evicted.
  size_t EvictTo(size_t max_entries, size_t max_bytes, uint64_t durable_seq);

  size_t size() const { return entries_.size(); }
  // The bytes charged for every entry (see ChargeFor).
  size_t bytes() const { return bytes_; }
  size_t dirty_count() const { return dirty_count_; }
  void MarkDirty(CachedProfile* entry);

 private:
  void Unlink(CachedProfile* entry);
  void LinkHottest(CachedProfile* entry);

  absl::node_hash_map<std::string, CachedProfile> entries_;
  CachedProfile* hottest_ = nullptr;
  CachedProfile* coldest_ = nullptr;
  size_t bytes_ = 0;
  std::vector<CachedProfile*> dirty_;
  size_t dirty_count_ = 0;
};

}  // namespace tailor::pipeline

#endif  // TAILOR_LIBS_PIPELINE_PROFILE_CACHE_H_
