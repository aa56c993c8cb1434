// File: bulk_load.h
// Changes of profiles and timers gathered in memory, in any order, and added
// to the store by ProfileStore::Ingest as sorted SST files: no memtable
// insert, no flush. The bulk path of restores from the changelog.
//
// Keys are copied; values are not: they must stay valid and unchanged until
// the BulkLoad is ingested or cleared (a restore holds the changelog
// records they point into). Within one BulkLoad the last change of a key
// wins. A BulkLoad ingested
// later overrides the ones before it and whatever the store held (its files
// get newer sequence numbers than everything in the database).
//
// Owned by its user; one thread at a time. Reusable: a successful Ingest
// clears it (and keeps its storage).
#ifndef TAILOR_LIBS_STORE_BULK_LOAD_H_
#define TAILOR_LIBS_STORE_BULK_LOAD_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace rocksdb {
class SstFileWriter;
}  // namespace rocksdb

namespace tailor::store {

class BulkLoad {
 public:
  BulkLoad() = default;
  BulkLoad(BulkLoad&&) = default;
  BulkLoad& operator=(BulkLoad&&) = default;

  // The same arguments and rules as ProfileStore::Batch's; a violation is
  // reported by Ingest.
  void PutProfile(int32_t partition, absl::string_view customer_id,
                  absl::string_view value);
  void DeleteProfile(int32_t partition, absl::string_view customer_id);
  void PutTimer(int32_t partition, int64_t fire_at_ms,
                absl::string_view customer_id, absl::string_view timer_id,
                absl::string_view value);

  // Changes added since the last Clear.
  size_t Count() const { return profiles_.size() + timers_.size(); }
  // Memory they take: keys, the values they refer to and the sort entries.
  size_t ByteSize() const;
  // Whether a profile was deleted (the store purges after the ingest).
  bool deletes() const { return deletes_; }
  // The first argument error, if any.
  const absl::Status& status() const { return status_; }
  // Drops every change and any recorded argument error; keeps the storage.
  void Clear();

 private:
  friend class ProfileStore;

  // One change: its key is keys_[at, at + key_size). `head` holds the
  // key's first 16 bytes (zero-padded) as two big-endian numbers, which
  // order most keys without reading keys_.
  struct Entry {
    uint64_t head[2];
    size_t at;
    const char* value;  // the caller's
    uint32_t key_size;
    uint32_t value_size;
    uint32_t seq;  // order of addition: the later change of a key wins
    bool erase;
  };

  void Add(std::vector<Entry>* entries, bool erase, absl::string_view value);
  void Check(bool ok, absl::string_view what);

  absl::string_view KeyOf(const Entry& e) const {
    return absl::string_view(keys_.data() + e.at, e.key_size);
  }
  // Sorts `entries` by key, the changes of one key in their order.
  void Sort(std::vector<Entry>* entries) const;
  // The first index at or after `at` that starts a key in `sorted` (so a
  // key's changes are never split).
  size_t KeyBoundary(const std::vector<Entry>& sorted, size_t at) const;
  // Adds the last change of each key of `sorted` to `writer` (opened and
  // finished by the caller).
  absl::Status Write(absl::Span<const Entry> sorted,
                     rocksdb::SstFileWriter* writer) const;

  std::string keys_;  // every key, one after the other
  size_t value_bytes_ = 0;
  std::vector<Entry> profiles_;
  std::vector<Entry> timers_;
  std::string key_;  // scratch for key encoding
  absl::Status status_;
  bool deletes_ = false;
};

}  // namespace tailor::store

#endif  // TAILOR_LIBS_STORE_BULK_LOAD_H_
