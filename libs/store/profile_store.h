// File: profile_store.h
// The RocksDB profile store: customer profiles, timers, consumed offsets and
// per-partition state in one database with the column families `profiles`,
// `timers` and `meta` (`default` is unused). Every profile and timer key starts
// with its input partition (see keys.h), so a partition's state can be
// scanned, dropped or restored on its own. Changes are grouped in a Batch and
// written atomically by Commit: one rocksdb::WriteBatch per pipeline commit.
//
// Memory is bounded: one LRU cache holds data, index and filter blocks and is
// charged for the memtables too, so RSS stays about
// block_cache_mb + 2 * write_buffer_mb whatever the number of customers.
#ifndef TAILOR_LIBS_STORE_PROFILE_STORE_H_
#define TAILOR_LIBS_STORE_PROFILE_STORE_H_

#include <rocksdb/write_batch.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "libs/store/bulk_load.h"
#include "libs/store/rocksdb_status.h"

namespace rocksdb {
class Cache;
class ColumnFamilyHandle;
class DB;
class Env;
class WriteBufferManager;
}  // namespace rocksdb

namespace tailor::store {

// The subdirectory of StoreOptions::path where Ingest writes its SST files
// before they are added to the database. Each Ingest removes its files;
// Open removes the directory, which a crash during an Ingest may leave.
inline constexpr absl::string_view kIngestDir = "ingest";

struct StoreOptions {
  // Database directory; created with its column families if missing.
  std::string path;
  // Shared block cache for all column families (data, index, filter blocks).
  int64_t block_cache_mb = 128;
  // Memtable size of the profiles column family; at most 2 per column family,
  // and all memtables together are held to 2 * write_buffer_mb.
  int64_t write_buffer_mb = 64;
  // fsync the WAL on every Commit. The WAL is always written except for
  // Commit(batch, /*disable_wal=*/true), which restores use.
  bool sync_writes = false;
  // When set, `path` is opened read-only as a RocksDB secondary instance
  // that keeps its own files (info log) in this directory: it works beside
  // the process that has the database open (tailor-ops reads a running
  // personalizer's state this way) and sees the state as of Open(),
  // including what is only in the primary's WAL. `path` must exist; every
  // write is refused.
  std::string secondary_path;
  // Not owned; must outlive the store. nullptr = rocksdb::Env::Default().
  // Tests put a fault-injecting file system here.
  rocksdb::Env* env = nullptr;
  // Physical removal of deleted data, in seconds; 0 = none. When a committed
  // batch deleted a profile (or asked for it with RequestPurge), a thread of
  // the store runs Purge() within this many seconds, and the profiles and
  // timers column families compact files older than it on their own
  // (periodic_compaction_seconds) as a backstop for deletions written
  // before a restart.
  int64_t purge_interval_s = 0;
};

// Owned by the pipeline (one per process). Reads, Commit() and batches of
// their own may be used from several threads at once (the pipeline's
// workers); Open and the restore's bulk writes are not. RocksDB itself is
// thread-safe: its background flush and compaction threads (max_background_jobs
// = 2) run on their own, and several ProfileStore instances never share a
// directory (RocksDB's LOCK file refuses a second opener).
//
// Partitions are Kafka partitions and must be >= 0; customer ids used in
// timers must not contain a 0x00 byte. Methods returning Status report a
// violation as kInvalidArgument; a Batch reports it from Commit.
class ProfileStore {
 public:
  // Opens (or creates) the database at options.path with its column families.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<ProfileStore>> Open(
      const StoreOptions& options);

  ProfileStore(const ProfileStore&) = delete;
  ProfileStore& operator=(const ProfileStore&) = delete;
  // Closes the database if Close() was not called (logging any error).
  ~ProfileStore();

  // Releases the column families and closes the database. Further calls to
  // any method other than the destructor are not allowed.
  [[nodiscard]] absl::Status Close();

  // Reads a profile's bytes into *value; returns false if absent. Unlike
  // the other methods it may also be called from another thread while the
  // owner uses the store (it shares no scratch state; RocksDB reads are
  // thread-safe), as long as the store outlives the call.
  [[nodiscard]] absl::StatusOr<bool> GetProfile(int32_t partition,
                                                absl::string_view customer_id,
                                                std::string* value);

  // Batched read of one partition's profiles: resizes *values and *found to
  // customer_ids.size() and fills values[i] / found[i] for customer_ids[i]
  // (values[i] is empty when not found).
  [[nodiscard]] absl::Status MultiGetProfiles(
      int32_t partition, absl::Span<const absl::string_view> customer_ids,
      std::vector<std::string>* values, std::vector<bool>* found);

  // The next offset to consume of topic/partition, if one was committed.
  [[nodiscard]] absl::StatusOr<std::optional<int64_t>> GetOffset(
      absl::string_view topic, int32_t partition);

  // A value of the meta column family, e.g. keys::PartitionStateKey(p).
  [[nodiscard]] absl::StatusOr<std::optional<std::string>> GetMeta(
      absl::string_view key);

  // Visits every timer of a partition in ascending fire time (then customer
  // id, then timer id). fn returns false to stop. Views are valid only during
  // the call.
  [[nodiscard]] absl::Status ForEachTimer(
      int32_t partition,
      absl::FunctionRef<bool(int64_t fire_at_ms, absl::string_view customer_id,
                             absl::string_view timer_id,
                             absl::string_view value)>
          fn);
  // The same from the first timer due at or after `from_fire_at_ms`.
  [[nodiscard]] absl::Status ForEachTimerFrom(
      int32_t partition, int64_t from_fire_at_ms,
      absl::FunctionRef<bool(int64_t fire_at_ms, absl::string_view customer_id,
                             absl::string_view timer_id,
                             absl::string_view value)>
          fn);
  // RocksDB's estimate of the timers stored (all partitions).
  uint64_t EstimatedTimerCount() const;

  // Visits every profile of a partition in customer id byte order. fn returns
  // false to stop. Does not fill the block cache.
  [[nodiscard]] absl::Status ForEachProfile(
      int32_t partition, absl::FunctionRef<bool(absl::string_view customer_id,
                                                absl::string_view value)>
                             fn);

  // Deletes all state of a partition in one atomic write: its profiles and
  // timers (range deletions), its offsets of every topic and its
  // partition state.
  [[nodiscard]] absl::Status DropPartition(int32_t partition);

  // A set of changes applied atomically by Commit (one rocksdb::WriteBatch).
  // Owned by its user; one thread at a time; must not outlive the store.
  // Reusable: a successful Commit clears it.
  class Batch {
   public:
    Batch(Batch&&) = default;
    Batch& operator=(Batch&&) = default;

    void PutProfile(int32_t partition, absl::string_view customer_id,
                    absl::string_view value);
    void DeleteProfile(int32_t partition, absl::string_view customer_id);
    void PutTimer(int32_t partition, int64_t fire_at_ms,
                  absl::string_view customer_id, absl::string_view timer_id,
                  absl::string_view value);
    void DeleteTimer(int32_t partition, int64_t fire_at_ms,
                     absl::string_view customer_id, absl::string_view timer_id);
    void PutOffset(absl::string_view topic, int32_t partition,
                   int64_t next_offset);
    void PutMeta(absl::string_view key, absl::string_view value);
    void DeleteMeta(absl::string_view key);
    // Asks for a Purge() after this batch is committed: a profile was
    // cleared of data that must leave the disk (DeleteProfile asks too).
    void RequestPurge() { purge_ = true; }

    // Moves the operations of *other (a batch of the same store) to the end
    // of this one, with its purge request and argument error, and clears
    // it.
    void Append(Batch* other);

    // Number of operations added since the last Clear.
    size_t Count() const;
    // Bytes of the underlying WriteBatch representation.
    size_t ByteSize() const;
    // Drops every operation and any recorded argument error.
    void Clear();

   private:
    friend class ProfileStore;
    Batch(rocksdb::ColumnFamilyHandle* profiles,
          rocksdb::ColumnFamilyHandle* timers,
          rocksdb::ColumnFamilyHandle* meta);
    void Check(bool ok, absl::string_view what);
    void Record(const rocksdb::Status& s, absl::string_view what);

    rocksdb::ColumnFamilyHandle* profiles_;
    rocksdb::ColumnFamilyHandle* timers_;
    rocksdb::ColumnFamilyHandle* meta_;
    rocksdb::WriteBatch batch_;
    std::string key_;      // Scratch for key encoding.
    absl::Status status_;  // First argument error; Commit returns it.
    bool purge_ = false;   // RequestPurge() or DeleteProfile() since Clear.
  };

  // A new empty batch bound to this store.
  Batch NewBatch();

  // Writes the batch atomically and clears it. The WAL is written unless
  // disable_wal (only for restore batches, which end with Flush()). On error
  // nothing of the batch is applied and the batch is left unchanged.
  [[nodiscard]] absl::Status Commit(Batch* batch, bool disable_wal = false);

  // Adds the changes of `load` to the database as SST files (per column
  // family one, or two of disjoint key ranges when it has 4,096 changes or
  // more; written on two threads), sorted, the last change of each key
  // only, atomically across the two families, and clears it. The files are
  // written under kIngestDir and moved into the database: no memtable, no
  // WAL, no flush; they are durable when Ingest returns. The memtables are
  // flushed first when they hold keys in the files' ranges. The files are
  // ordered after everything in the database: a key `load` changes takes
  // its value from `load` (a DeleteProfile deletes it), whatever the store
  // held. The files are written uncompressed, as a flush writes level 0;
  // the compactions that rewrite them compress them (one placed in the last
  // level, as the first of a restore into an empty store is, stays
  // uncompressed until one does). On error nothing of `load` is applied
  // and it is left unchanged. May be called from another thread than the
  // owner's while the owner does not use the store; one Ingest at a time.
  [[nodiscard]] absl::Status Ingest(BulkLoad* load);

  // Flushes the memtables of all column families to SST files (atomically
  // across them) and waits; used after WAL-less restore batches.
  [[nodiscard]] absl::Status Flush();

  // Removes deleted and overwritten data from the files of the store:
  // flushes the memtables (the WAL files that held them are deleted, never
  // recycled or archived), then compacts the profiles and timers column
  // families down to the last level, which drops deleted keys and old
  // values. Safe to call from any thread (RocksDB is thread-safe); the
  // purge thread calls it (StoreOptions::purge_interval_s).
  [[nodiscard]] absl::Status Purge();
  // Purges run so far (by the thread or by Purge()).
  int64_t purges() const { return purges_.load(); }

  // Approximate figures for /metrics.
  struct Stats {
    int64_t estimated_profiles = 0;  // Estimated keys in `profiles`.
    int64_t block_cache_usage = 0;   // Cached blocks, without memtable charge.
    int64_t memtable_bytes = 0;      // All memtables, all column families.
  };
  Stats GetStats();

 private:
  ProfileStore() = default;

  StoreOptions options_;
  std::shared_ptr<rocksdb::Cache> cache_;
  std::shared_ptr<rocksdb::WriteBufferManager> write_buffer_manager_;
  std::unique_ptr<rocksdb::DB> db_;
  // Indexed by the kCf* constants in profile_store.cc; destroyed before db_.
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  rocksdb::ColumnFamilyHandle* profiles_ = nullptr;
  rocksdb::ColumnFamilyHandle* timers_ = nullptr;
  rocksdb::ColumnFamilyHandle* meta_ = nullptr;

  // Runs Purge() every purge_interval_s while purge_wanted_ is set.
  void PurgeLoop();
  std::atomic<bool> purge_wanted_{false};
  std::atomic<int64_t> purges_{0};
  uint64_t ingests_ = 0;  // numbers the files of Ingest
  absl::Mutex purge_mu_;
  bool purge_stop_ ABSL_GUARDED_BY(purge_mu_) = false;
  std::thread purger_;
};

}  // namespace tailor::store

#endif  // TAILOR_LIBS_STORE_PROFILE_STORE_H_
