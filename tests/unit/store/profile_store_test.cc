#include "libs/store/profile_store.h"

#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>
#include <rocksdb/utilities/debug.h>
#include <stdlib.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/status_macros.h"
#include "libs/store/keys.h"

namespace tailor::store {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Optional;
using ::testing::Pair;

// A file system whose WAL files (*.log) accept only `budget` more bytes once
// armed: the append that crosses the budget writes the bytes that fit (a torn
// record) and fails, as a crash or a full disk would.
class WalBudgetFileSystem : public rocksdb::FileSystemWrapper {
 public:
  explicit WalBudgetFileSystem(std::shared_ptr<rocksdb::FileSystem> base)
      : rocksdb::FileSystemWrapper(std::move(base)) {}
  const char* Name() const override { return "WalBudgetFileSystem"; }

  void Arm(int64_t budget) { budget_ = budget; }
  void Disarm() { budget_ = -1; }
  int failures() const { return failures_; }

  rocksdb::IOStatus NewWritableFile(
      const std::string& fname, const rocksdb::FileOptions& options,
      std::unique_ptr<rocksdb::FSWritableFile>* result,
      rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s =
        target()->NewWritableFile(fname, options, result, dbg);
    if (s.ok() && absl::EndsWith(fname, ".log")) {
      *result = std::make_unique<File>(std::move(*result), this);
    }
    return s;
  }

 private:
  class File : public rocksdb::FSWritableFileOwnerWrapper {
   public:
    File(std::unique_ptr<rocksdb::FSWritableFile> base, WalBudgetFileSystem* fs)
        : rocksdb::FSWritableFileOwnerWrapper(std::move(base)), fs_(fs) {}
    rocksdb::IOStatus Append(const rocksdb::Slice& data,
                             const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* dbg) override {
      const int64_t budget = fs_->budget_;
      if (budget < 0) return target()->Append(data, options, dbg);
      if (static_cast<int64_t>(data.size()) <= budget) {
        fs_->budget_ = budget - static_cast<int64_t>(data.size());
        return target()->Append(data, options, dbg);
      }
      rocksdb::IOStatus s = target()->Append(
          rocksdb::Slice(data.data(), static_cast<size_t>(budget)), options,
          dbg);
      if (s.ok()) s = target()->Flush(options, dbg);
      fs_->budget_ = 0;
      ++fs_->failures_;
      return rocksdb::IOStatus::IOError("injected WAL write failure");
    }
    rocksdb::IOStatus Append(const rocksdb::Slice& data,
                             const rocksdb::IOOptions& options,
                             const rocksdb::DataVerificationInfo& /*info*/,
                             rocksdb::IODebugContext* dbg) override {
      return Append(data, options, dbg);
    }

   private:
    WalBudgetFileSystem* fs_;
  };

  std::atomic<int64_t> budget_{-1};
  std::atomic<int> failures_{0};
};

class ProfileStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "/profile_store_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    store_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  StoreOptions Options() const {
    StoreOptions options;
    options.path = dir_ + "/db";
    options.block_cache_mb = 8;
    options.write_buffer_mb = 4;
    options.env = env_;
    return options;
  }

  void OpenStore() {
    store_.reset();
    auto store = ProfileStore::Open(Options());
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }

  std::optional<std::string> Profile(int32_t partition, absl::string_view id) {
    std::string value;
    auto found = store_->GetProfile(partition, id, &value);
    EXPECT_TRUE(found.ok()) << found.status();
    if (!found.ok() || !*found) return std::nullopt;
    return value;
  }

  using TimerRow = std::tuple<int64_t, std::string, std::string, std::string>;
  std::vector<TimerRow> Timers(int32_t partition) {
    std::vector<TimerRow> rows;
    absl::Status s = store_->ForEachTimer(
        partition, [&](int64_t at, absl::string_view customer,
                       absl::string_view timer, absl::string_view value) {
          rows.emplace_back(at, std::string(customer), std::string(timer),
                            std::string(value));
          return true;
        });
    EXPECT_TRUE(s.ok()) << s;
    return rows;
  }

  std::vector<std::pair<std::string, std::string>> Profiles(int32_t partition) {
    std::vector<std::pair<std::string, std::string>> rows;
    absl::Status s = store_->ForEachProfile(
        partition, [&](absl::string_view id, absl::string_view value) {
          rows.emplace_back(std::string(id), std::string(value));
          return true;
        });
    EXPECT_TRUE(s.ok()) << s;
    return rows;
  }

  std::string dir_;
  rocksdb::Env* env_ = nullptr;
  std::unique_ptr<ProfileStore> store_;
};

TEST_F(ProfileStoreTest, OpenCreatesDirectoryAndColumnFamilies) {
  OpenStore();
  ASSERT_TRUE(store_->Close().ok());
  std::vector<std::string> families;
  ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(),
                                              Options().path, &families)
                  .ok());
  EXPECT_THAT(families, ::testing::UnorderedElementsAre("default", "profiles",
                                                        "timers", "meta"));
}

TEST_F(ProfileStoreTest, OpenRejectsEmptyPath) {
  StoreOptions options;
  EXPECT_EQ(ProfileStore::Open(options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ProfileStoreTest, RoundTripOfEveryKind) {
  OpenStore();
  ProfileStore::Batch batch = store_->NewBatch();
  batch.PutProfile(3, "alice", "profile-a");
  batch.PutTimer(3, 1000, "alice", "cart-1", "timer-a");
  batch.PutOffset("clickstream", 3, 12345);
  batch.PutMeta(keys::PartitionStateKey(3), "pstate-3");
  batch.PutMeta("custom", std::string("\0bytes", 6));
  EXPECT_EQ(batch.Count(), 5u);
  EXPECT_GT(batch.ByteSize(), 0u);
  ASSERT_TRUE(store_->Commit(&batch).ok());
  EXPECT_EQ(batch.Count(), 0u);  // Commit clears.

  EXPECT_THAT(Profile(3, "alice"), Optional(std::string("profile-a")));
  EXPECT_EQ(Profile(3, "bob"), std::nullopt);
  EXPECT_THAT(Timers(3),
              ElementsAre(TimerRow{1000, "alice", "cart-1", "timer-a"}));
  EXPECT_THAT(*store_->GetOffset("clickstream", 3), Optional(12345));
  EXPECT_EQ(*store_->GetOffset("orders", 3), std::nullopt);
  EXPECT_EQ(*store_->GetOffset("clickstream", 4), std::nullopt);
  EXPECT_THAT(*store_->GetMeta("pstate/3"), Optional(std::string("pstate-3")));
  EXPECT_THAT(*store_->GetMeta("custom"), Optional(std::string("\0bytes", 6)));
  EXPECT_EQ(*store_->GetMeta("missing"), std::nullopt);

  // Overwrite and delete.
  batch.PutProfile(3, "alice", "profile-a2");
  batch.DeleteTimer(3, 1000, "alice", "cart-1");
  batch.PutOffset("clickstream", 3, 12400);
  ASSERT_TRUE(store_->Commit(&batch).ok());
  EXPECT_THAT(Profile(3, "alice"), Optional(std::string("profile-a2")));
  EXPECT_THAT(Timers(3), IsEmpty());
  EXPECT_THAT(*store_->GetOffset("clickstream", 3), Optional(12400));

  batch.DeleteProfile(3, "alice");
  ASSERT_TRUE(store_->Commit(&batch).ok());
  EXPECT_EQ(Profile(3, "alice"), std::nullopt);
}

TEST_F(ProfileStoreTest, ReopenKeepsData) {
  OpenStore();
  ProfileStore::Batch batch = store_->NewBatch();
  for (int i = 0; i < 100; ++i) {
    batch.PutProfile(1, absl::StrCat("c", i), absl::StrCat("v", i));
  }
  batch.PutTimer(1, 50, "c1", "t", "tv");
  batch.PutOffset("orders", 1, 777);
  ASSERT_TRUE(store_->Commit(&batch).ok());
  // Half the data reaches SST files, the rest only the WAL.
  ASSERT_TRUE(store_->Flush().ok());
  batch.PutProfile(1, "after-flush", "wal-only");
  ASSERT_TRUE(store_->Commit(&batch).ok());
  ASSERT_TRUE(store_->Close().ok());

  OpenStore();
  EXPECT_EQ(Profiles(1).size(), 101u);
  EXPECT_THAT(Profile(1, "c42"), Optional(std::string("v42")));
  EXPECT_THAT(Profile(1, "after-flush"), Optional(std::string("wal-only")));
  EXPECT_THAT(Timers(1), ElementsAre(TimerRow{50, "c1", "t", "tv"}));
  EXPECT_THAT(*store_->GetOffset("orders", 1), Optional(777));
}

// A secondary instance reads the state while its owner has it open (flushed
// and WAL-only data alike), sees later writes only when opened again, and
// refuses to write.
TEST_F(ProfileStoreTest, SecondaryReadsBesideTheOwnerAndNeverWrites) {
  OpenStore();
  ProfileStore::Batch batch = store_->NewBatch();
  batch.PutProfile(2, "flushed", "v1");
  batch.PutOffset("clickstream", 2, 40);
  ASSERT_TRUE(store_->Commit(&batch).ok());
  ASSERT_TRUE(store_->Flush().ok());
  batch.PutProfile(2, "wal-only", "v2");
  ASSERT_TRUE(store_->Commit(&batch).ok());

  StoreOptions options = Options();
  options.secondary_path = dir_ + "/secondary";
  auto secondary = ProfileStore::Open(options);
  ASSERT_TRUE(secondary.ok()) << secondary.status();
  std::string value;
  ASSERT_TRUE(*(*secondary)->GetProfile(2, "flushed", &value));
  EXPECT_EQ(value, "v1");
  ASSERT_TRUE(*(*secondary)->GetProfile(2, "wal-only", &value));
  EXPECT_EQ(value, "v2");
  EXPECT_THAT(*(*secondary)->GetOffset("clickstream", 2), Optional(40));

  batch.PutProfile(2, "later", "v3");
  ASSERT_TRUE(store_->Commit(&batch).ok());
  EXPECT_FALSE(*(*secondary)->GetProfile(2, "later", &value));
  ProfileStore::Batch refused = (*secondary)->NewBatch();
  refused.PutProfile(2, "flushed", "overwritten");
  EXPECT_FALSE((*secondary)->Commit(&refused).ok());
  ASSERT_TRUE((*secondary)->Close().ok());

  auto again = ProfileStore::Open(options);
  ASSERT_TRUE(again.ok()) << again.status();
  ASSERT_TRUE(*(*again)->GetProfile(2, "later", &value));
  EXPECT_EQ(value, "v3");
  EXPECT_THAT(Profile(2, "flushed"), Optional(std::string("v1")));
}

TEST_F(ProfileStoreTest, SecondaryOfAMissingStateIsNotFound) {
  StoreOptions options = Options();
  options.path = dir_ + "/none";
  options.secondary_path = dir_ + "/secondary";
  EXPECT_EQ(ProfileStore::Open(options).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_FALSE(std::filesystem::exists(options.path));
}

TEST_F(ProfileStoreTest, WalLessCommitSurvivesReopenAfterFlush) {
  OpenStore();
  ProfileStore::Batch batch = store_->NewBatch();
  batch.PutProfile(0, "restored", "r");
  batch.PutOffset("tailor.profiles.changelog", 0, 99);
  ASSERT_TRUE(store_->Commit(&batch, /*disable_wal=*/true).ok());
  ASSERT_TRUE(store_->Flush().ok());
  ASSERT_TRUE(store_->Close().ok());
  OpenStore();
  EXPECT_THAT(Profile(0, "restored"), Optional(std::string("r")));
  EXPECT_THAT(*store_->GetOffset("tailor.profiles.changelog", 0), Optional(99));
}

TEST_F(ProfileStoreTest, IngestOverridesWhatTheStoreHeld) {
  OpenStore();
  // Flushed state, then newer changes only in the memtable (and WAL).
  ProfileStore::Batch batch = store_->NewBatch();
  batch.PutProfile(0, "replaced", "old-flushed");
  batch.PutProfile(0, "deleted", "old");
  batch.PutProfile(0, "kept", "kept");
  batch.PutTimer(0, 1000, "replaced", "t", "old-timer");
  ASSERT_TRUE(store_->Commit(&batch).ok());
  ASSERT_TRUE(store_->Flush().ok());
  batch.PutProfile(0, "replaced", "old-memtable");
  batch.PutProfile(0, "deleted-in-memtable", "old");
  ASSERT_TRUE(store_->Commit(&batch).ok());

  // Changes in no key order; the last change of a key wins.
  const std::string v1 = "new-1";
  const std::string v2 = "new-2";
  const std::string timer = "new-timer";
  BulkLoad load;
  load.PutProfile(0, "replaced", v1);
  load.PutProfile(0, "created", v1);
  load.DeleteProfile(0, "deleted");
  load.PutProfile(0, "replaced", v2);
  load.DeleteProfile(0, "deleted-in-memtable");
  load.PutProfile(1, "other-partition", v1);
  load.DeleteProfile(0, "created");
  load.PutProfile(0, "created", v2);
  load.PutTimer(0, 2000, "replaced", "t", timer);
  load.PutTimer(0, 1000, "replaced", "t", timer);
  EXPECT_EQ(load.Count(), 10u);
  ASSERT_TRUE(store_->Ingest(&load).ok());
  EXPECT_EQ(load.Count(), 0u);  // Ingest clears.

  EXPECT_THAT(Profiles(0),
              ElementsAre(Pair("created", "new-2"), Pair("kept", "kept"),
                          Pair("replaced", "new-2")));
  EXPECT_THAT(Profile(1, "other-partition"), Optional(std::string("new-1")));
  EXPECT_THAT(Timers(0), ElementsAre(TimerRow{1000, "replaced", "t", timer},
                                     TimerRow{2000, "replaced", "t", timer}));

  // A later ingest overrides an earlier one, and changes committed after
  // an ingest override it.
  load.PutProfile(0, "kept", v1);
  ASSERT_TRUE(store_->Ingest(&load).ok());
  EXPECT_THAT(Profile(0, "kept"), Optional(std::string("new-1")));
  batch.PutProfile(0, "kept", "committed");
  ASSERT_TRUE(store_->Commit(&batch).ok());
  EXPECT_THAT(Profile(0, "kept"), Optional(std::string("committed")));

  // The ingested files are the store's: no WAL, no flush needed.
  ASSERT_TRUE(store_->Close().ok());
  OpenStore();
  EXPECT_THAT(Profile(0, "replaced"), Optional(std::string("new-2")));
  EXPECT_EQ(Profile(0, "deleted"), std::nullopt);
  EXPECT_EQ(Timers(0).size(), 2u);
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::path(Options().path) /
                                       std::string(kIngestDir)));
}

TEST_F(ProfileStoreTest, ALargeIngestKeepsTheLastChangeOfEveryKey) {
  OpenStore();
  // Enough changes that each family is written as two files; every key
  // changes three or four times, so some key's changes meet the split.
  constexpr int kChanges = 10000;
  constexpr int kKeys = 3333;
  std::vector<std::string> values;
  for (int i = 0; i < kChanges; ++i) values.push_back(absl::StrCat("v", i));
  BulkLoad load;
  for (int i = 0; i < kChanges; ++i) {
    const std::string id = absl::StrFormat("c%05d", i % kKeys);
    load.PutProfile(0, id, values[i]);
    load.PutTimer(0, i % kKeys, id, "t", values[i]);
  }
  ASSERT_TRUE(store_->Ingest(&load).ok());
  const auto profiles = Profiles(0);
  ASSERT_EQ(profiles.size(), static_cast<size_t>(kKeys));
  const auto timers = Timers(0);
  ASSERT_EQ(timers.size(), static_cast<size_t>(kKeys));
  for (int k = 0; k < kKeys; ++k) {
    const int last = k + (kChanges - 1 - k) / kKeys * kKeys;
    const std::string id = absl::StrFormat("c%05d", k);
    EXPECT_EQ(profiles[k], std::make_pair(id, absl::StrCat("v", last)));
    EXPECT_EQ(timers[k], (TimerRow{k, id, "t", absl::StrCat("v", last)}));
  }
}

TEST_F(ProfileStoreTest, IngestWithInvalidArgumentAppliesNothing) {
  OpenStore();
  const std::string value = "v";
  BulkLoad load;
  load.PutProfile(0, "fine", value);
  load.PutTimer(0, 1000, std::string("bad\0id", 6), "t", value);
  EXPECT_EQ(store_->Ingest(&load).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(load.Count(), 2u);  // left unchanged
  EXPECT_EQ(Profile(0, "fine"), std::nullopt);
  load.Clear();
  load.PutProfile(-1, "fine", value);
  EXPECT_EQ(store_->Ingest(&load).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ProfileStoreTest, OpenRemovesTheFilesACrashedIngestLeft) {
  OpenStore();
  ASSERT_TRUE(store_->Close().ok());
  const std::filesystem::path dir =
      std::filesystem::path(Options().path) / std::string(kIngestDir);
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "7-profiles.sst") << "half-written";
  OpenStore();
  EXPECT_FALSE(std::filesystem::exists(dir));
  // Ingest still works after the cleanup.
  const std::string value = "v";
  BulkLoad load;
  load.PutProfile(0, "c", value);
  ASSERT_TRUE(store_->Ingest(&load).ok());
  EXPECT_THAT(Profile(0, "c"), Optional(std::string("v")));
  EXPECT_FALSE(std::filesystem::exists(dir));
}

TEST_F(ProfileStoreTest, BatchThatIsNeverCommittedLeavesNothing) {
  OpenStore();
  {
    ProfileStore::Batch batch = store_->NewBatch();
    batch.PutProfile(1, "ghost", "v");
    batch.PutOffset("clickstream", 1, 5);
    batch.PutTimer(1, 10, "ghost", "t", "v");
  }
  ProfileStore::Batch cleared = store_->NewBatch();
  cleared.PutProfile(1, "cleared", "v");
  cleared.Clear();
  EXPECT_EQ(cleared.Count(), 0u);
  ASSERT_TRUE(store_->Commit(&cleared).ok());
  ASSERT_TRUE(store_->Close().ok());
  OpenStore();
  EXPECT_THAT(Profiles(1), IsEmpty());
  EXPECT_THAT(Timers(1), IsEmpty());
  EXPECT_EQ(*store_->GetOffset("clickstream", 1), std::nullopt);
}

TEST_F(ProfileStoreTest, BatchWithInvalidArgumentAppliesNothing) {
  OpenStore();
  ProfileStore::Batch batch = store_->NewBatch();
  batch.PutProfile(1, "valid-before", "v");
  batch.PutTimer(1, 10, std::string("bad\0id", 6), "t", "v");
  batch.PutProfile(1, "valid-after", "v");
  absl::Status s = store_->Commit(&batch);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(Profiles(1), IsEmpty());
  EXPECT_THAT(Timers(1), IsEmpty());

  ProfileStore::Batch negative = store_->NewBatch();
  negative.PutProfile(-1, "x", "v");
  EXPECT_EQ(store_->Commit(&negative).code(),
            absl::StatusCode::kInvalidArgument);
  negative.Clear();
  negative.PutProfile(2, "x", "v");
  EXPECT_TRUE(store_->Commit(&negative).ok());  // Clear resets the error.
}

// A commit whose WAL write fails half-way leaves a torn record on disk. After
// a reopen, either all of the batch is there or none of it; since the commit
// failed, none. Writing the batch's operations separately would leave the
// ones that fitted in the WAL budget.
TEST_F(ProfileStoreTest, FailedCommitLeavesNoPartialState) {
  auto fs =
      std::make_shared<WalBudgetFileSystem>(rocksdb::FileSystem::Default());
  std::unique_ptr<rocksdb::Env> env = rocksdb::NewCompositeEnv(fs);
  env_ = env.get();
  OpenStore();

  ProfileStore::Batch batch = store_->NewBatch();
  batch.PutProfile(1, "before", "committed");
  batch.PutOffset("clickstream", 1, 100);
  ASSERT_TRUE(store_->Commit(&batch).ok());

  const std::string value(200, 'p');
  for (int i = 0; i < 200; ++i) {
    batch.PutProfile(1, absl::StrCat("torn-", i), value);
    batch.PutTimer(1, i, absl::StrCat("torn-", i), "t", "timer");
  }
  batch.PutOffset("clickstream", 1, 300);
  const size_t bytes = batch.ByteSize();
  fs->Arm(static_cast<int64_t>(bytes / 2));
  absl::Status s = store_->Commit(&batch);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(fs->failures(), 1);
  EXPECT_EQ(batch.Count(), 401u);  // A failed commit keeps the batch.

  // Nothing of the batch is visible in this process either.
  EXPECT_EQ(Profile(1, "torn-0"), std::nullopt);
  EXPECT_THAT(*store_->GetOffset("clickstream", 1), Optional(100));

  fs->Disarm();
  IgnoreError(store_->Close());  // The store is in a failed state.
  store_.reset();
  OpenStore();
  EXPECT_THAT(Profiles(1), ElementsAre(Pair("before", "committed")));
  EXPECT_THAT(Timers(1), IsEmpty());
  EXPECT_THAT(*store_->GetOffset("clickstream", 1), Optional(100));

  // The reopened store accepts writes again.
  ProfileStore::Batch next = store_->NewBatch();
  next.PutProfile(1, "after", "ok");
  ASSERT_TRUE(store_->Commit(&next).ok());
  EXPECT_THAT(Profile(1, "after"), Optional(std::string("ok")));
  store_.reset();
}

TEST_F(ProfileStoreTest, TimersIterateInNumericFireTimeOrder) {
  OpenStore();
  const std::vector<int64_t> times = {std::numeric_limits<int64_t>::max(),
                                      1'700'000'000'000,
                                      256,
                                      255,
                                      1,
                                      0,
                                      -1,
                                      -86'400'000,
                                      std::numeric_limits<int64_t>::min()};
  ProfileStore::Batch batch = store_->NewBatch();
  for (int64_t t : times) {
    batch.PutTimer(4, t, absl::StrCat("c", t), "t", absl::StrCat(t));
  }
  // Neighbouring partitions must not leak into the scan.
  batch.PutTimer(3, 5, "other", "t", "p3");
  batch.PutTimer(5, -5, "other", "t", "p5");
  ASSERT_TRUE(store_->Commit(&batch).ok());

  std::vector<int64_t> seen;
  for (const TimerRow& row : Timers(4)) {
    seen.push_back(std::get<0>(row));
    EXPECT_EQ(std::get<1>(row), absl::StrCat("c", std::get<0>(row)));
    EXPECT_EQ(std::get<3>(row), absl::StrCat(std::get<0>(row)));
  }
  EXPECT_THAT(
      seen, ElementsAre(std::numeric_limits<int64_t>::min(), -86'400'000, -1, 0,
                        1, 255, 256, 1'700'000'000'000,
                        std::numeric_limits<int64_t>::max()));
}

TEST_F(ProfileStoreTest, ForEachStopsWhenCallbackReturnsFalse) {
  OpenStore();
  ProfileStore::Batch batch = store_->NewBatch();
  for (int i = 0; i < 10; ++i) {
    batch.PutTimer(0, i, "c", absl::StrCat("t", i), "v");
    batch.PutProfile(0, absl::StrCat("c", i), "v");
  }
  ASSERT_TRUE(store_->Commit(&batch).ok());
  std::vector<int64_t> due;
  ASSERT_TRUE(store_
                  ->ForEachTimer(0,
                                 [&](int64_t at, absl::string_view,
                                     absl::string_view, absl::string_view) {
                                   if (at > 3) return false;
                                   due.push_back(at);
                                   return true;
                                 })
                  .ok());
  EXPECT_THAT(due, ElementsAre(0, 1, 2, 3));
  int profiles = 0;
  ASSERT_TRUE(
      store_
          ->ForEachProfile(0, [&](absl::string_view,
                                  absl::string_view) { return ++profiles < 2; })
          .ok());
  EXPECT_EQ(profiles, 2);
}

TEST_F(ProfileStoreTest, DropPartitionKeepsOtherPartitions) {
  OpenStore();
  ProfileStore::Batch batch = store_->NewBatch();
  for (int32_t p : {0, 1, 2}) {
    batch.PutProfile(p, "c1", absl::StrCat("p", p));
    batch.PutProfile(p, "c2", absl::StrCat("p", p));
    batch.PutTimer(p, 10, "c1", "t", absl::StrCat("p", p));
    batch.PutOffset("clickstream", p, 100 + p);
    batch.PutOffset("orders", p, 200 + p);
    batch.PutMeta(keys::PartitionStateKey(p), absl::StrCat("p", p));
  }
  // Partition 11's offset key shares the text prefix "offset/orders/1".
  batch.PutOffset("orders", 11, 211);
  batch.PutMeta("unrelated", "keep");
  ASSERT_TRUE(store_->Commit(&batch).ok());
  ASSERT_TRUE(store_->Flush().ok());  // Range deletes must cover SSTs too.

  ASSERT_TRUE(store_->DropPartition(1).ok());
  auto check = [&] {
    EXPECT_THAT(Profiles(1), IsEmpty());
    EXPECT_THAT(Timers(1), IsEmpty());
    EXPECT_EQ(*store_->GetOffset("clickstream", 1), std::nullopt);
    EXPECT_EQ(*store_->GetOffset("orders", 1), std::nullopt);
    EXPECT_EQ(*store_->GetMeta(keys::PartitionStateKey(1)), std::nullopt);
    for (int32_t p : {0, 2}) {
      const std::string v = absl::StrCat("p", p);
      EXPECT_THAT(Profiles(p), ElementsAre(Pair("c1", v), Pair("c2", v)));
      EXPECT_THAT(Timers(p), ElementsAre(TimerRow{10, "c1", "t", v}));
      EXPECT_THAT(*store_->GetOffset("clickstream", p), Optional(100 + p));
      EXPECT_THAT(*store_->GetOffset("orders", p), Optional(200 + p));
      EXPECT_THAT(*store_->GetMeta(keys::PartitionStateKey(p)), Optional(v));
    }
    EXPECT_THAT(*store_->GetOffset("orders", 11), Optional(211));
    EXPECT_THAT(*store_->GetMeta("unrelated"), Optional(std::string("keep")));
  };
  check();
  ASSERT_TRUE(store_->Close().ok());
  OpenStore();
  check();

  // The partition can be written again after a drop.
  ProfileStore::Batch next = store_->NewBatch();
  next.PutProfile(1, "c3", "new");
  ASSERT_TRUE(store_->Commit(&next).ok());
  EXPECT_THAT(Profiles(1), ElementsAre(Pair("c3", "new")));
}

TEST_F(ProfileStoreTest, AppendedBatchesAreWrittenAsOne) {
  OpenStore();
  ProfileStore::Batch before = store_->NewBatch();
  before.PutProfile(1, "gone", "old");
  ASSERT_TRUE(store_->Commit(&before).ok());

  ProfileStore::Batch a = store_->NewBatch();
  a.PutProfile(0, "a", "va");
  a.PutTimer(0, 1000, "a", "t", "timer");
  ProfileStore::Batch b = store_->NewBatch();
  b.PutProfile(1, "b", "vb");
  b.DeleteProfile(1, "gone");
  b.PutOffset("clickstream", 1, 42);
  ProfileStore::Batch empty = store_->NewBatch();
  a.Append(&b);
  a.Append(&empty);
  EXPECT_EQ(a.Count(), 5u);
  EXPECT_EQ(b.Count(), 0u);
  // Nothing is written before the one Commit.
  EXPECT_EQ(Profile(0, "a"), std::nullopt);
  EXPECT_THAT(Profile(1, "gone"), Optional(std::string("old")));
  ASSERT_TRUE(store_->Commit(&a).ok());
  EXPECT_THAT(Profile(0, "a"), Optional(std::string("va")));
  EXPECT_THAT(Profile(1, "b"), Optional(std::string("vb")));
  EXPECT_EQ(Profile(1, "gone"), std::nullopt);
  EXPECT_THAT(*store_->GetOffset("clickstream", 1), Optional(42));

  // Appended to an empty batch, the operations move over whole.
  ProfileStore::Batch c = store_->NewBatch();
  ProfileStore::Batch d = store_->NewBatch();
  d.PutProfile(2, "d", "vd");
  c.Append(&d);
  EXPECT_EQ(c.Count(), 1u);
  ASSERT_TRUE(store_->Commit(&c).ok());
  EXPECT_THAT(Profile(2, "d"), Optional(std::string("vd")));
}

TEST_F(ProfileStoreTest, MultiGetReportsFoundAndNotFound) {
  OpenStore();
  ProfileStore::Batch batch = store_->NewBatch();
  batch.PutProfile(2, "a", "va");
  batch.PutProfile(2, "c", "vc");
  batch.PutProfile(3, "b", "other-partition");
  batch.PutProfile(2, "empty", "");
  ASSERT_TRUE(store_->Commit(&batch).ok());
  ASSERT_TRUE(store_->Flush().ok());
  batch.PutProfile(2, "d", "vd-memtable");
  ASSERT_TRUE(store_->Commit(&batch).ok());

  std::vector<absl::string_view> ids = {"c", "b", "a", "zz", "empty", "d", "a"};
  std::vector<std::string> values = {"stale"};
  std::vector<bool> found;
  ASSERT_TRUE(store_->MultiGetProfiles(2, ids, &values, &found).ok());
  EXPECT_THAT(found, ElementsAre(true, false, true, false, true, true, true));
  EXPECT_THAT(values, ElementsAre("vc", "", "va", "", "", "vd-memtable", "va"));

  ASSERT_TRUE(store_->MultiGetProfiles(2, {}, &values, &found).ok());
  EXPECT_THAT(values, IsEmpty());
  EXPECT_THAT(found, IsEmpty());
}

TEST_F(ProfileStoreTest, NegativePartitionIsRejected) {
  OpenStore();
  std::string value;
  EXPECT_EQ(store_->GetProfile(-1, "a", &value).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->DropPartition(-1).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ProfileStoreTest, StatsReflectData) {
  OpenStore();
  ProfileStore::Batch batch = store_->NewBatch();
  for (int i = 0; i < 1000; ++i) {
    batch.PutProfile(0, absl::StrCat("c", i), std::string(100, 'x'));
  }
  ASSERT_TRUE(store_->Commit(&batch).ok());
  ProfileStore::Stats stats = store_->GetStats();
  EXPECT_GT(stats.estimated_profiles, 0);
  EXPECT_GT(stats.memtable_bytes, 100 * 1000);
}

// Every internal version (values and tombstones) of the profiles and timers
// column families whose key holds `needle`, read from a closed store's files.
int VersionsHolding(const std::string& path, absl::string_view needle) {
  std::vector<std::string> families;
  EXPECT_TRUE(
      rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), path, &families)
          .ok());
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const std::string& name : families) {
    descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
  }
  rocksdb::DB* raw = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  EXPECT_TRUE(rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions(), path,
                                           descriptors, &handles, &raw)
                  .ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  int n = 0;
  for (rocksdb::ColumnFamilyHandle* h : handles) {
    std::vector<rocksdb::KeyVersion> versions;
    EXPECT_TRUE(rocksdb::GetAllKeyVersions(db.get(), h, rocksdb::Slice(),
                                           rocksdb::Slice(), 1 << 20, &versions)
                    .ok());
    for (const rocksdb::KeyVersion& v : versions) {
      if (absl::StrContains(v.user_key, needle)) ++n;
    }
    EXPECT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
  }
  return n;
}

// Whether a WAL or MANIFEST file of the store holds `needle` (neither is
// compressed).
bool WalOrManifestHolds(const std::string& path, absl::string_view needle) {
  for (const auto& entry : std::filesystem::directory_iterator(path)) {
    const std::string name = entry.path().filename().string();
    if (entry.path().extension() != ".log" &&
        !absl::StartsWith(name, "MANIFEST-")) {
      continue;
    }
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)),
                            std::istreambuf_iterator<char>());
    if (absl::StrContains(bytes, needle)) return true;
  }
  return false;
}

TEST_F(ProfileStoreTest, PurgeRemovesADeletedProfileFromEveryFile) {
  OpenStore();
  ProfileStore::Batch batch = store_->NewBatch();
  batch.PutProfile(0, "erase-me-7f3a", "profile of the erased customer");
  batch.PutTimer(0, 1000, "erase-me-7f3a", "t1", "timer");
  batch.PutProfile(0, "kept-customer-91", "profile of a kept customer");
  ASSERT_TRUE(store_->Commit(&batch).ok());
  ASSERT_TRUE(store_->Flush().ok());  // both in an SST file
  batch.DeleteProfile(0, "erase-me-7f3a");
  batch.DeleteTimer(0, 1000, "erase-me-7f3a", "t1");
  ASSERT_TRUE(store_->Commit(&batch).ok());  // the deletes in the WAL

  ASSERT_TRUE(store_->Purge().ok());
  EXPECT_EQ(store_->purges(), 1);
  ASSERT_TRUE(store_->Close().ok());
  const std::string path = Options().path;
  EXPECT_EQ(VersionsHolding(path, "erase-me-7f3a"), 0);
  EXPECT_FALSE(WalOrManifestHolds(path, "erase-me-7f3a"));
  // The scans can see an id that is there.
  EXPECT_EQ(VersionsHolding(path, "kept-customer-91"), 1);
}

TEST_F(ProfileStoreTest, WithoutPurgeTheDeletedProfileStaysInTheFiles) {
  OpenStore();
  ProfileStore::Batch batch = store_->NewBatch();
  batch.PutProfile(0, "erase-me-7f3a", "profile of the erased customer");
  ASSERT_TRUE(store_->Commit(&batch).ok());
  ASSERT_TRUE(store_->Flush().ok());
  batch.DeleteProfile(0, "erase-me-7f3a");
  ASSERT_TRUE(store_->Commit(&batch).ok());
  ASSERT_TRUE(store_->Close().ok());
  EXPECT_GT(VersionsHolding(Options().path, "erase-me-7f3a"), 0);
  EXPECT_TRUE(WalOrManifestHolds(Options().path, "erase-me-7f3a"));
}

TEST_F(ProfileStoreTest, PurgeThreadRunsAfterADeletion) {
  StoreOptions options = Options();
  options.purge_interval_s = 1;
  auto opened = ProfileStore::Open(options);
  ASSERT_TRUE(opened.ok()) << opened.status();
  store_ = *std::move(opened);
  ProfileStore::Batch batch = store_->NewBatch();
  batch.PutProfile(0, "kept-customer-91", "profile");
  ASSERT_TRUE(store_->Commit(&batch).ok());
  absl::SleepFor(absl::Milliseconds(1500));
  EXPECT_EQ(store_->purges(), 0);  // nothing deleted: no purge
  batch.DeleteProfile(0, "kept-customer-91");
  ASSERT_TRUE(store_->Commit(&batch).ok());
  for (int i = 0; i < 50 && store_->purges() == 0; ++i) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_EQ(store_->purges(), 1);
  ASSERT_TRUE(store_->Close().ok());
  EXPECT_EQ(VersionsHolding(options.path, "kept-customer-91"), 0);
  EXPECT_FALSE(WalOrManifestHolds(options.path, "kept-customer-91"));
}

TEST(RocksStatusTest, MapsCodes) {
  EXPECT_TRUE(RocksStatus(rocksdb::Status::OK(), "x").ok());
  absl::Status s = RocksStatus(rocksdb::Status::Corruption("bad block"), "get");
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(absl::StartsWith(s.message(), "get: "));
  EXPECT_TRUE(absl::StrContains(s.message(), "bad block"));
  EXPECT_EQ(RocksStatus(rocksdb::Status::NotFound(), "x").code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(RocksStatus(rocksdb::Status::InvalidArgument(), "x").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RocksStatus(rocksdb::Status::Busy(), "x").code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(RocksStatus(rocksdb::Status::NoSpace(), "x").code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(RocksStatus(rocksdb::Status::IOError("flaky"), "x").code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(RocksStatus(rocksdb::Status(rocksdb::Status::IOError("dead"),
                                        rocksdb::Status::Severity::kFatalError),
                        "x")
                .code(),
            absl::StatusCode::kInternal);
  EXPECT_EQ(RocksStatus(rocksdb::Status::ShutdownInProgress(), "x").code(),
            absl::StatusCode::kCancelled);
}

}  // namespace
}  // namespace tailor::store
