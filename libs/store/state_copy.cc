#include "libs/store/state_copy.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <filesystem>
#include <memory>
#include <system_error>
#include <vector>

#include "absl/strings/str_cat.h"
#include "libs/base/status_macros.h"
#include "libs/store/rocksdb_status.h"

namespace tailor::store {
namespace {

constexpr size_t kBatchKeys = 10000;

// Closes a database with its column family handles.
struct OpenDb {
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  ~OpenDb() {
    for (rocksdb::ColumnFamilyHandle* h : handles) {
      if (db != nullptr) (void)db->DestroyColumnFamilyHandle(h);
    }
  }
};

std::vector<rocksdb::ColumnFamilyDescriptor> Descriptors(
    const std::vector<std::string>& names) {
  std::vector<rocksdb::ColumnFamilyDescriptor> out;
  for (const std::string& name : names) {
    out.emplace_back(name, rocksdb::ColumnFamilyOptions());
  }
  return out;
}

}  // namespace

absl::StatusOr<int64_t> CopyLiveState(const std::string& live_dir,
                                      const std::string& copy_dir) {
  std::error_code ec;
  if (std::filesystem::exists(std::filesystem::path(copy_dir) / "CURRENT",
                              ec)) {
    return absl::AlreadyExistsError(
        absl::StrCat(copy_dir, " already holds a database"));
  }
  std::vector<std::string> names;
  TAILOR_RETURN_IF_ERROR(RocksStatus(
      rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), live_dir, &names),
      absl::StrCat("read the state directory ", live_dir)));
  const std::string secondary_dir = copy_dir + ".secondary";
  std::filesystem::remove_all(secondary_dir, ec);

  OpenDb live;
  {
    rocksdb::DBOptions options;
    options.max_open_files = -1;  // required of a secondary instance
    rocksdb::DB* raw = nullptr;
    TAILOR_RETURN_IF_ERROR(RocksStatus(
        rocksdb::DB::OpenAsSecondary(options, live_dir, secondary_dir,
                                     Descriptors(names), &live.handles, &raw),
        absl::StrCat("open ", live_dir, " read-only")));
    live.db.reset(raw);
  }
  TAILOR_RETURN_IF_ERROR(
      RocksStatus(live.db->TryCatchUpWithPrimary(),
                  absl::StrCat("catch up with the writer of ", live_dir)));

  OpenDb copy;
  {
    rocksdb::DBOptions options;
    options.create_if_missing = true;
    options.create_missing_column_families = true;
    rocksdb::DB* raw = nullptr;
    TAILOR_RETURN_IF_ERROR(
        RocksStatus(rocksdb::DB::Open(options, copy_dir, Descriptors(names),
                                      &copy.handles, &raw),
                    absl::StrCat("create ", copy_dir)));
    copy.db.reset(raw);
  }

  int64_t keys = 0;
  rocksdb::WriteOptions write;
  write.disableWAL = true;  // flushed below
  for (size_t cf = 0; cf < names.size(); ++cf) {
    std::unique_ptr<rocksdb::Iterator> it(
        live.db->NewIterator(rocksdb::ReadOptions(), live.handles[cf]));
    rocksdb::WriteBatch batch;
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      TAILOR_RETURN_IF_ERROR(RocksStatus(
          batch.Put(copy.handles[cf], it->key(), it->value()), "copy a key"));
      ++keys;
      if (batch.Count() >= static_cast<int>(kBatchKeys)) {
        TAILOR_RETURN_IF_ERROR(RocksStatus(copy.db->Write(write, &batch),
                                           absl::StrCat("write ", copy_dir)));
        batch.Clear();
      }
    }
    TAILOR_RETURN_IF_ERROR(RocksStatus(
        it->status(), absl::StrCat("read ", live_dir, " (", names[cf], ")")));
    TAILOR_RETURN_IF_ERROR(RocksStatus(copy.db->Write(write, &batch),
                                       absl::StrCat("write ", copy_dir)));
  }
  TAILOR_RETURN_IF_ERROR(
      RocksStatus(copy.db->Flush(rocksdb::FlushOptions(), copy.handles),
                  absl::StrCat("flush ", copy_dir)));
  std::filesystem::remove_all(secondary_dir, ec);
  return keys;
}

}  // namespace tailor::store
