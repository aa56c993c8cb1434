#include "libs/store/profile_store.h"

#include <rocksdb/cache.h>
#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/sst_file_writer.h>
#include <rocksdb/table.h>
#include <rocksdb/write_buffer_manager.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <limits>
#include <string>
#include <system_error>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "libs/base/log.h"
#include "libs/base/status_macros.h"
#include "libs/store/keys.h"

namespace tailor::store {
namespace {

constexpr int64_t kMiB = int64_t{1} << 20;

// Column family order in handles_.
constexpr size_t kCfDefault = 0;
constexpr size_t kCfProfiles = 1;
constexpr size_t kCfTimers = 2;
constexpr size_t kCfMeta = 3;
constexpr const char* kProfilesCf = "profiles";
constexpr const char* kTimersCf = "timers";
constexpr const char* kMetaCf = "meta";
// Changes of one column family from which an Ingest writes two files.
constexpr size_t kIngestSplitEntries = 4096;

rocksdb::CompressionType PickCompression() {
  for (rocksdb::CompressionType c : rocksdb::GetSupportedCompressions()) {
    if (c == rocksdb::kLZ4Compression) return c;
  }
  return rocksdb::kNoCompression;
}

absl::Status CheckPartition(int32_t partition) {
  if (partition < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("partition must be >= 0, got ", partition));
  }
  return absl::OkStatus();
}

rocksdb::Slice ToSlice(absl::string_view v) {
  return rocksdb::Slice(v.data(), v.size());
}

absl::string_view ToView(const rocksdb::Slice& s) {
  return absl::string_view(s.data(), s.size());
}

// Column family options sharing one block cache. `bloom` adds a 10-bit bloom
// filter for point lookups (profiles); scanned families go without.
rocksdb::ColumnFamilyOptions MakeCfOptions(
    const std::shared_ptr<rocksdb::Cache>& cache, bool bloom,
    int64_t write_buffer_bytes, rocksdb::CompressionType compression) {
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = cache;
  table.cache_index_and_filter_blocks = true;
  table.cache_index_and_filter_blocks_with_high_priority = true;
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  if (bloom) {
    table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    table.optimize_filters_for_memory = true;
  }
  rocksdb::ColumnFamilyOptions cf;
  cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  cf.write_buffer_size = static_cast<size_t>(write_buffer_bytes);
  cf.max_write_buffer_number = 2;
  cf.min_write_buffer_number_to_merge = 1;
  cf.compression = compression;
  // Flushes write L0 uncompressed and compactions compress what they write
  // below it: a flush then costs no compression (LZ4 was most of a restore's
  // CPU time, tools/bench/README.md), and the data is compressed once, on
  // its first compaction, instead of at the flush and again there.
  cf.compression_per_level = {rocksdb::kNoCompression, compression};
  cf.bottommost_compression = compression;
  cf.level_compaction_dynamic_level_bytes = true;
  return cf;
}

// Deleted data leaves the files: no WAL is recycled (a reused file keeps
// old records past its new end) or archived, and the manifest, whose
// edits name the first and last keys of files (customer ids), is rewritten
// from the live files at every change instead of growing (a few KiB per
// flush or compaction).
void BoundDeletedData(rocksdb::DBOptions* db) {
  db->recycle_log_file_num = 0;
  db->WAL_ttl_seconds = 0;
  db->WAL_size_limit_MB = 0;
  db->max_manifest_file_size = 1;
}

}  // namespace

// ---------------------------------------------------------------------------
// Batch

ProfileStore::Batch::Batch(rocksdb::ColumnFamilyHandle* profiles,
                           rocksdb::ColumnFamilyHandle* timers,
                           rocksdb::ColumnFamilyHandle* meta)
    : profiles_(profiles), timers_(timers), meta_(meta) {}

void ProfileStore::Batch::Check(bool ok, absl::string_view what) {
  if (!ok && status_.ok()) status_ = absl::InvalidArgumentError(what);
}

void ProfileStore::Batch::Record(const rocksdb::Status& s,
                                 absl::string_view what) {
  if (!s.ok() && status_.ok()) status_ = RocksStatus(s, what);
}

void ProfileStore::Batch::PutProfile(int32_t partition,
                                     absl::string_view customer_id,
                                     absl::string_view value) {
  Check(partition >= 0, "PutProfile: partition must be >= 0");
  keys::EncodeProfileKey(partition, customer_id, &key_);
  Record(batch_.Put(profiles_, key_, ToSlice(value)), "PutProfile");
}

void ProfileStore::Batch::DeleteProfile(int32_t partition,
                                        absl::string_view customer_id) {
  Check(partition >= 0, "DeleteProfile: partition must be >= 0");
  keys::EncodeProfileKey(partition, customer_id, &key_);
  Record(batch_.Delete(profiles_, key_), "DeleteProfile");
  purge_ = true;
}

void ProfileStore::Batch::PutTimer(int32_t partition, int64_t fire_at_ms,
                                   absl::string_view customer_id,
                                   absl::string_view timer_id,
                                   absl::string_view value) {
  Check(partition >= 0, "PutTimer: partition must be >= 0");
  Check(keys::ValidCustomerIdForTimer(customer_id),
        "PutTimer: customer id contains a 0x00 byte");
  keys::EncodeTimerKey(partition, fire_at_ms, customer_id, timer_id, &key_);
  Record(batch_.Put(timers_, key_, ToSlice(value)), "PutTimer");
}

void ProfileStore::Batch::DeleteTimer(int32_t partition, int64_t fire_at_ms,
                                      absl::string_view customer_id,
                                      absl::string_view timer_id) {
  Check(partition >= 0, "DeleteTimer: partition must be >= 0");
  Check(keys::ValidCustomerIdForTimer(customer_id),
        "DeleteTimer: customer id contains a 0x00 byte");
  keys::EncodeTimerKey(partition, fire_at_ms, customer_id, timer_id, &key_);
  Record(batch_.Delete(timers_, key_), "DeleteTimer");
}

void ProfileStore::Batch::PutOffset(absl::string_view topic, int32_t partition,
                                    int64_t next_offset) {
  Check(partition >= 0, "PutOffset: partition must be >= 0");
  Check(!topic.empty() && !absl::StrContains(topic, '/'),
        "PutOffset: topic must be non-empty and contain no '/'");
  Record(batch_.Put(meta_, keys::OffsetKey(topic, partition),
                    keys::EncodeOffsetValue(next_offset)),
         "PutOffset");
}

void ProfileStore::Batch::PutMeta(absl::string_view key,
                                  absl::string_view value) {
  Record(batch_.Put(meta_, ToSlice(key), ToSlice(value)), "PutMeta");
}

void ProfileStore::Batch::DeleteMeta(absl::string_view key) {
  Record(batch_.Delete(meta_, ToSlice(key)), "DeleteMeta");
}

size_t ProfileStore::Batch::Count() const {
  return static_cast<size_t>(batch_.Count());
}

size_t ProfileStore::Batch::ByteSize() const { return batch_.GetDataSize(); }

void ProfileStore::Batch::Append(Batch* other) {
  if (status_.ok()) status_ = other->status_;
  purge_ = purge_ || other->purge_;
  if (other->batch_.Count() > 0 && batch_.Count() == 0) {
    std::swap(batch_, other->batch_);
  } else if (other->batch_.Count() > 0) {
    // A WriteBatch is a 12-byte header (fixed64 sequence number, fixed32
    // record count, little-endian) and its records: batches of one
    // database join by appending the records and adding the counts, as
    // RocksDB's own WriteBatchInternal::Append does.
    constexpr size_t kHeader = 12;
    std::string rep = batch_.Data();
    rep.append(other->batch_.Data(), kHeader, std::string::npos);
    const uint32_t count = batch_.Count() + other->batch_.Count();
    for (int i = 0; i < 4; ++i) {
      rep[8 + i] = static_cast<char>((count >> (8 * i)) & 0xff);
    }
    batch_ = rocksdb::WriteBatch(std::move(rep));
  }
  other->Clear();
}

void ProfileStore::Batch::Clear() {
  batch_.Clear();
  status_ = absl::OkStatus();
  purge_ = false;
}

// ---------------------------------------------------------------------------
// ProfileStore

absl::StatusOr<std::unique_ptr<ProfileStore>> ProfileStore::Open(
    const StoreOptions& options) {
  if (options.path.empty()) {
    return absl::InvalidArgumentError("store path is empty");
  }
  if (options.block_cache_mb < 1 || options.write_buffer_mb < 1) {
    return absl::InvalidArgumentError(
        "block_cache_mb and write_buffer_mb must be >= 1");
  }
  const bool secondary = !options.secondary_path.empty();
  std::error_code ec;
  if (secondary) {
    if (!std::filesystem::exists(
            std::filesystem::path(options.path) / "CURRENT", ec)) {
      return absl::NotFoundError(absl::StrCat(
          "no RocksDB state in ", options.path, " (no CURRENT file)"));
    }
    std::filesystem::create_directories(options.secondary_path, ec);
  } else {
    std::filesystem::create_directories(options.path, ec);
    // What a crash during an Ingest left.
    if (!ec) {
      std::filesystem::remove_all(
          std::filesystem::path(options.path) / std::string(kIngestDir), ec);
    }
  }
  if (ec) {
    return absl::InternalError(absl::StrCat(
        "cannot create store directory ",
        secondary ? options.secondary_path : options.path, ": ", ec.message()));
  }

  std::unique_ptr<ProfileStore> store(new ProfileStore());
  store->options_ = options;

  // One cache bounds both block memory and memtables: the write buffer
  // manager charges memtable memory to it, so blocks get what memtables do
  // not use.
  const int64_t memtable_budget = 2 * options.write_buffer_mb * kMiB;
  store->cache_ = rocksdb::NewLRUCache(
      static_cast<size_t>(options.block_cache_mb * kMiB + memtable_budget));
  store->write_buffer_manager_ = std::make_shared<rocksdb::WriteBufferManager>(
      static_cast<size_t>(memtable_budget), store->cache_);

  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.max_background_jobs = 2;
  db_options.write_buffer_manager = store->write_buffer_manager_;
  // Restores write without WAL; flushing all families together keeps
  // offsets in `meta` from getting ahead of the profiles they cover.
  db_options.atomic_flush = true;
  db_options.bytes_per_sync = 1 * kMiB;
  db_options.max_total_wal_size = static_cast<uint64_t>(4 * memtable_budget);
  db_options.keep_log_file_num = 4;
  BoundDeletedData(&db_options);
  if (options.env != nullptr) db_options.env = options.env;

  const rocksdb::CompressionType compression = PickCompression();
  const int64_t profiles_wb = options.write_buffer_mb * kMiB;
  const int64_t small_wb = std::max<int64_t>(4 * kMiB, profiles_wb / 8);
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors = {
      {rocksdb::kDefaultColumnFamilyName,
       MakeCfOptions(store->cache_, false, 4 * kMiB, compression)},
      {kProfilesCf,
       MakeCfOptions(store->cache_, true, profiles_wb, compression)},
      {kTimersCf, MakeCfOptions(store->cache_, false, small_wb, compression)},
      {kMetaCf, MakeCfOptions(store->cache_, false, small_wb, compression)},
  };
  if (options.purge_interval_s > 0) {
    for (size_t cf : {kCfProfiles, kCfTimers}) {
      descriptors[cf].options.periodic_compaction_seconds =
          static_cast<uint64_t>(options.purge_interval_s);
    }
  }

  rocksdb::DB* raw_db = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  if (secondary) {
    db_options.create_if_missing = false;
    db_options.create_missing_column_families = false;
    db_options.max_open_files = -1;  // required of a secondary instance
    TAILOR_RETURN_IF_ERROR(RocksStatus(
        rocksdb::DB::OpenAsSecondary(db_options, options.path,
                                     options.secondary_path, descriptors,
                                     &handles, &raw_db),
        absl::StrCat("open store ", options.path, " as a secondary")));
  } else {
    TAILOR_RETURN_IF_ERROR(
        RocksStatus(rocksdb::DB::Open(db_options, options.path, descriptors,
                                      &handles, &raw_db),
                    absl::StrCat("open store ", options.path)));
  }
  store->db_.reset(raw_db);
  store->handles_ = std::move(handles);
  store->profiles_ = store->handles_[kCfProfiles];
  store->timers_ = store->handles_[kCfTimers];
  store->meta_ = store->handles_[kCfMeta];
  if (secondary) {
    TAILOR_RETURN_IF_ERROR(
        RocksStatus(store->db_->TryCatchUpWithPrimary(),
                    absl::StrCat("catch up with the state in ", options.path)));
  } else if (options.purge_interval_s > 0) {
    ProfileStore* self = store.get();
    store->purger_ = std::thread([self] { self->PurgeLoop(); });
  }
  spdlog::info(
      "store: opened {} (block cache {} MiB, write buffer {} MiB, {})",
      options.path, options.block_cache_mb, options.write_buffer_mb,
      compression == rocksdb::kLZ4Compression ? "lz4" : "no compression");
  return store;
}

ProfileStore::~ProfileStore() {
  absl::Status s = Close();
  if (!s.ok()) spdlog::error("store: close failed: {}", s.ToString());
}

absl::Status ProfileStore::Close() {
  if (purger_.joinable()) {
    {
      absl::MutexLock lock(&purge_mu_);
      purge_stop_ = true;
    }
    db_->DisableManualCompaction();  // a running Purge() returns early
    purger_.join();
  }
  if (db_ == nullptr) return absl::OkStatus();
  absl::Status result;
  for (rocksdb::ColumnFamilyHandle* h : handles_) {
    absl::Status s =
        RocksStatus(db_->DestroyColumnFamilyHandle(h), "destroy cf handle");
    if (result.ok()) result = s;
  }
  handles_.clear();
  profiles_ = timers_ = meta_ = nullptr;
  absl::Status s = RocksStatus(db_->Close(), "close store");
  if (result.ok()) result = s;
  db_.reset();
  return result;
}

absl::StatusOr<bool> ProfileStore::GetProfile(int32_t partition,
                                              absl::string_view customer_id,
                                              std::string* value) {
  TAILOR_RETURN_IF_ERROR(CheckPartition(partition));
  const std::string key = keys::ProfileKey(partition, customer_id);
  rocksdb::PinnableSlice pinned;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), profiles_, key, &pinned);
  if (s.IsNotFound()) return false;
  TAILOR_RETURN_IF_ERROR(RocksStatus(s, "get profile"));
  value->assign(pinned.data(), pinned.size());
  return true;
}

absl::Status ProfileStore::MultiGetProfiles(
    int32_t partition, absl::Span<const absl::string_view> customer_ids,
    std::vector<std::string>* values, std::vector<bool>* found) {
  TAILOR_RETURN_IF_ERROR(CheckPartition(partition));
  const size_t n = customer_ids.size();
  values->resize(n);
  found->assign(n, false);
  if (n == 0) return absl::OkStatus();

  // All keys in one buffer; the slices point into it once it is complete.
  size_t total = 0;
  for (absl::string_view id : customer_ids) {
    total += keys::kPartitionPrefixSize + id.size();
  }
  std::string key_bytes;
  key_bytes.reserve(total);
  for (absl::string_view id : customer_ids) {
    keys::AppendPartitionPrefix(partition, &key_bytes);
    key_bytes.append(id.data(), id.size());
  }
  std::vector<rocksdb::Slice> key_slices;
  key_slices.reserve(n);
  size_t pos = 0;
  for (absl::string_view id : customer_ids) {
    const size_t len = keys::kPartitionPrefixSize + id.size();
    key_slices.emplace_back(key_bytes.data() + pos, len);
    pos += len;
  }
  std::vector<rocksdb::PinnableSlice> pinned(n);
  std::vector<rocksdb::Status> statuses(n);
  db_->MultiGet(rocksdb::ReadOptions(), profiles_, n, key_slices.data(),
                pinned.data(), statuses.data(), /*sorted_input=*/false);
  for (size_t i = 0; i < n; ++i) {
    if (statuses[i].IsNotFound()) {
      (*values)[i].clear();
      continue;
    }
    TAILOR_RETURN_IF_ERROR(RocksStatus(statuses[i], "multiget profiles"));
    (*values)[i].assign(pinned[i].data(), pinned[i].size());
    (*found)[i] = true;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<int64_t>> ProfileStore::GetOffset(
    absl::string_view topic, int32_t partition) {
  TAILOR_RETURN_IF_ERROR(CheckPartition(partition));
  const std::string key = keys::OffsetKey(topic, partition);
  TAILOR_ASSIGN_OR_RETURN(std::optional<std::string> raw, GetMeta(key));
  if (!raw.has_value()) return std::optional<int64_t>();
  std::optional<int64_t> offset = keys::DecodeOffsetValue(*raw);
  if (!offset.has_value()) {
    return absl::DataLossError(absl::StrCat("offset value of ", key, " has ",
                                            raw->size(), " bytes, want 8"));
  }
  return offset;
}

absl::StatusOr<std::optional<std::string>> ProfileStore::GetMeta(
    absl::string_view key) {
  rocksdb::PinnableSlice pinned;
  rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), meta_, ToSlice(key), &pinned);
  if (s.IsNotFound()) return std::optional<std::string>();
  TAILOR_RETURN_IF_ERROR(RocksStatus(s, absl::StrCat("get meta ", key)));
  return std::optional<std::string>(std::string(pinned.data(), pinned.size()));
}

absl::Status ProfileStore::ForEachTimer(
    int32_t partition,
    absl::FunctionRef<bool(int64_t, absl::string_view, absl::string_view,
                           absl::string_view)>
        fn) {
  return ForEachTimerFrom(partition, std::numeric_limits<int64_t>::min(), fn);
}

uint64_t ProfileStore::EstimatedTimerCount() const {
  uint64_t count = 0;
  if (!db_->GetIntProperty(timers_, "rocksdb.estimate-num-keys", &count)) {
    return 0;
  }
  return count;
}

absl::Status ProfileStore::ForEachTimerFrom(
    int32_t partition, int64_t from_fire_at_ms,
    absl::FunctionRef<bool(int64_t, absl::string_view, absl::string_view,
                           absl::string_view)>
        fn) {
  TAILOR_RETURN_IF_ERROR(CheckPartition(partition));
  std::string lower;
  keys::EncodeTimerKey(partition, from_fire_at_ms, "", "", &lower);
  lower.pop_back();  // the customer id's terminator: before every key
  const std::string upper = keys::PartitionUpperBound(partition);
  rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions read_options;
  read_options.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(read_options, timers_));
  for (it->Seek(lower); it->Valid(); it->Next()) {
    std::optional<keys::TimerKeyParts> parts =
        keys::DecodeTimerKey(ToView(it->key()));
    if (!parts.has_value()) {
      return absl::DataLossError(
          absl::StrCat("malformed timer key in partition ", partition));
    }
    if (!fn(parts->fire_at_ms, parts->customer_id, parts->timer_id,
            ToView(it->value()))) {
      break;
    }
  }
  return RocksStatus(it->status(), "iterate timers");
}

absl::Status ProfileStore::ForEachProfile(
    int32_t partition,
    absl::FunctionRef<bool(absl::string_view, absl::string_view)> fn) {
  TAILOR_RETURN_IF_ERROR(CheckPartition(partition));
  const std::string lower = keys::PartitionPrefix(partition);
  const std::string upper = keys::PartitionUpperBound(partition);
  rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions read_options;
  read_options.iterate_upper_bound = &upper_slice;
  read_options.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(read_options, profiles_));
  for (it->Seek(lower); it->Valid(); it->Next()) {
    absl::string_view key = ToView(it->key());
    if (!fn(key.substr(keys::kPartitionPrefixSize), ToView(it->value()))) {
      break;
    }
  }
  return RocksStatus(it->status(), "iterate profiles");
}

absl::Status ProfileStore::DropPartition(int32_t partition) {
  TAILOR_RETURN_IF_ERROR(CheckPartition(partition));
  const std::string lower = keys::PartitionPrefix(partition);
  const std::string upper = keys::PartitionUpperBound(partition);
  rocksdb::WriteBatch batch;
  // A range deletion only where the partition holds keys: one over nothing
  // would still make the next Ingest flush the memtables and put its files
  // above it, in level 0, where a restore's files then pile up.
  rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions any_key;
  any_key.iterate_upper_bound = &upper_slice;
  any_key.fill_cache = false;
  for (rocksdb::ColumnFamilyHandle* cf : {profiles_, timers_}) {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(any_key, cf));
    it->Seek(lower);
    TAILOR_RETURN_IF_ERROR(RocksStatus(it->status(), "drop partition: scan"));
    if (!it->Valid()) continue;
    TAILOR_RETURN_IF_ERROR(
        RocksStatus(batch.DeleteRange(cf, lower, upper), "drop partition"));
  }
  // Offsets of every topic for this partition.
  {
    const std::string prefix(keys::kOffsetKeyPrefix);
    std::string prefix_end = prefix;
    prefix_end.back() += 1;  // "offset0": just after every "offset/..." key.
    rocksdb::Slice offsets_end(prefix_end);
    rocksdb::ReadOptions read_options;
    read_options.iterate_upper_bound = &offsets_end;
    std::unique_ptr<rocksdb::Iterator> it(
        db_->NewIterator(read_options, meta_));
    for (it->Seek(prefix); it->Valid(); it->Next()) {
      std::optional<keys::OffsetKeyParts> parts =
          keys::DecodeOffsetKey(ToView(it->key()));
      if (parts.has_value() && parts->partition == partition) {
        TAILOR_RETURN_IF_ERROR(
            RocksStatus(batch.Delete(meta_, it->key()), "drop offset"));
      }
    }
    TAILOR_RETURN_IF_ERROR(RocksStatus(it->status(), "scan offsets"));
  }
  TAILOR_RETURN_IF_ERROR(
      RocksStatus(batch.Delete(meta_, keys::PartitionStateKey(partition)),
                  "drop partition state"));
  rocksdb::WriteOptions write_options;
  write_options.sync = options_.sync_writes;
  TAILOR_RETURN_IF_ERROR(
      RocksStatus(db_->Write(write_options, &batch),
                  absl::StrCat("drop partition ", partition)));
  purge_wanted_.store(true);
  return absl::OkStatus();
}

ProfileStore::Batch ProfileStore::NewBatch() {
  return Batch(profiles_, timers_, meta_);
}

absl::Status ProfileStore::Commit(Batch* batch, bool disable_wal) {
  TAILOR_RETURN_IF_ERROR(batch->status_);
  if (batch->batch_.Count() == 0) return absl::OkStatus();
  rocksdb::WriteOptions write_options;
  write_options.sync = options_.sync_writes && !disable_wal;
  write_options.disableWAL = disable_wal;
  TAILOR_RETURN_IF_ERROR(
      RocksStatus(db_->Write(write_options, &batch->batch_), "commit batch"));
  if (batch->purge_) purge_wanted_.store(true);
  batch->Clear();
  return absl::OkStatus();
}

absl::Status ProfileStore::Ingest(BulkLoad* load) {
  TAILOR_RETURN_IF_ERROR(load->status());
  if (load->Count() == 0) return absl::OkStatus();
  if (!options_.secondary_path.empty()) {
    return absl::FailedPreconditionError(
        "ingest: the store is open as a secondary (read-only)");
  }
  const std::filesystem::path dir =
      std::filesystem::path(options_.path) / std::string(kIngestDir);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return absl::InternalError(absl::StrCat("ingest: cannot create ",
                                            dir.string(), ": ", ec.message()));
  }
  const uint64_t number = ++ingests_;
  // One file per column family, or two of disjoint key ranges for a family
  // with many changes: the files are written on two threads.
  struct File {
    rocksdb::ColumnFamilyHandle* cf;
    absl::Span<const BulkLoad::Entry> entries;
    std::string path;
    absl::Status status;
  };
  std::vector<File> files;
  for (auto [cf, entries, name] :
       {std::tuple(profiles_, &load->profiles_, kProfilesCf),
        std::tuple(timers_, &load->timers_, kTimersCf)}) {
    if (entries->empty()) continue;
    load->Sort(entries);
    const size_t parts = entries->size() >= kIngestSplitEntries ? 2 : 1;
    size_t from = 0;
    for (size_t part = 1; part <= parts; ++part) {
      const size_t to =
          load->KeyBoundary(*entries, entries->size() * part / parts);
      if (to == from) continue;
      files.push_back(
          {cf, absl::MakeConstSpan(entries->data() + from, to - from),
           (dir / absl::StrCat(number, "-", name, "-", part, ".sst")).string(),
           absl::OkStatus()});
      from = to;
    }
  }
  std::atomic<size_t> next{0};
  const auto write_files = [&] {
    for (size_t i; (i = next.fetch_add(1)) < files.size();) {
      File& f = files[i];
      rocksdb::Options options = db_->GetOptions(f.cf);
      // Uncompressed, like a flush's level-0 files (see MakeCfOptions): the
      // compactions that rewrite them compress them.
      options.compression = rocksdb::kNoCompression;
      options.bottommost_compression = rocksdb::kNoCompression;
      options.compression_per_level.clear();
      rocksdb::SstFileWriter writer(rocksdb::EnvOptions(), options, f.cf,
                                    /*invalidate_page_cache=*/false);
      f.status = RocksStatus(writer.Open(f.path), "ingest: open " + f.path);
      if (f.status.ok()) f.status = load->Write(f.entries, &writer);
      if (f.status.ok()) {
        f.status = RocksStatus(writer.Finish(), "ingest: finish " + f.path);
      }
    }
  };
  std::thread helper(write_files);
  write_files();
  helper.join();

  std::vector<rocksdb::IngestExternalFileArg> args;
  absl::Status status;
  for (const File& f : files) {
    if (status.ok()) status = f.status;
    if (args.empty() || args.back().column_family != f.cf) {
      args.emplace_back();
      args.back().column_family = f.cf;
      args.back().options.move_files = true;
    }
    args.back().external_files.push_back(f.path);
  }
  if (status.ok()) {
    status = RocksStatus(db_->IngestExternalFiles(args), "ingest files");
  }
  // Moved files are gone already; what is left was not ingested.
  for (const File& f : files) std::filesystem::remove(f.path, ec);
  std::filesystem::remove(dir, ec);  // only when empty
  TAILOR_RETURN_IF_ERROR(status);
  if (load->deletes()) purge_wanted_.store(true);
  load->Clear();
  return absl::OkStatus();
}

absl::Status ProfileStore::Flush() {
  rocksdb::FlushOptions flush_options;
  flush_options.wait = true;
  return RocksStatus(db_->Flush(flush_options, handles_), "flush store");
}

absl::Status ProfileStore::Purge() {
  TAILOR_RETURN_IF_ERROR(Flush());
  rocksdb::CompactRangeOptions compact;
  // Also rewrite the last level, where a deleted key's tombstone and old
  // value would otherwise stay side by side.
  compact.bottommost_level_compaction =
      rocksdb::BottommostLevelCompaction::kForce;
  for (rocksdb::ColumnFamilyHandle* cf : {profiles_, timers_}) {
    TAILOR_RETURN_IF_ERROR(RocksStatus(
        db_->CompactRange(compact, cf, nullptr, nullptr), "purge store"));
  }
  // One more change rewrites the manifest from the files just compacted,
  // which no longer name a deleted key: the purge count, flushed.
  const int64_t purges = purges_.load() + 1;
  TAILOR_RETURN_IF_ERROR(RocksStatus(
      db_->Put(rocksdb::WriteOptions(), meta_, ToSlice(keys::kPurgesKey),
               keys::EncodeOffsetValue(purges)),
      "purge store"));
  TAILOR_RETURN_IF_ERROR(Flush());
  purges_.store(purges);
  return absl::OkStatus();
}

void ProfileStore::PurgeLoop() {
  const absl::Duration interval = absl::Seconds(options_.purge_interval_s);
  absl::MutexLock lock(&purge_mu_);
  while (!purge_stop_) {
    purge_mu_.AwaitWithTimeout(absl::Condition(&purge_stop_), interval);
    if (purge_stop_ || !purge_wanted_.exchange(false)) continue;
    purge_mu_.Unlock();
    absl::Status s = Purge();
    purge_mu_.Lock();
    if (!s.ok()) {
      purge_wanted_.store(true);  // tried again at the next interval
      if (!purge_stop_) spdlog::warn("store: purge failed: {}", s.ToString());
    }
  }
}

ProfileStore::Stats ProfileStore::GetStats() {
  Stats stats;
  uint64_t v = 0;
  if (db_->GetIntProperty(profiles_, rocksdb::DB::Properties::kEstimateNumKeys,
                          &v)) {
    stats.estimated_profiles = static_cast<int64_t>(v);
  }
  const size_t cache_usage = cache_->GetUsage();
  const size_t reserved = write_buffer_manager_->dummy_entries_in_cache_usage();
  stats.block_cache_usage =
      static_cast<int64_t>(cache_usage > reserved ? cache_usage - reserved : 0);
  if (db_->GetAggregatedIntProperty(
          rocksdb::DB::Properties::kCurSizeAllMemTables, &v)) {
    stats.memtable_bytes = static_cast<int64_t>(v);
  }
  return stats;
}

}  // namespace tailor::store
