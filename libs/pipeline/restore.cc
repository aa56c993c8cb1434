#include "libs/pipeline/restore.h"

#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "libs/base/log.h"
#include "libs/base/status_macros.h"
#include "libs/pipeline/changelog.h"
#include "tailor/v1/profile.pb.h"

namespace tailor::pipeline {
namespace {

// How often a running restore logs its progress.
constexpr absl::Duration kProgressEvery = absl::Seconds(5);

constexpr absl::Duration kQueryTimeout = absl::Seconds(10);
constexpr size_t kBulkRecords = 20000;  // records per WAL-less batch

}  // namespace

ChangelogRestorer::ChangelogRestorer(store::ProfileStore* store,
                                     kafka::Consumer* reader,
                                     std::string changelog_topic)
    : store_(store),
      reader_(reader),
      changelog_topic_(std::move(changelog_topic)) {}

absl::StatusOr<RestoreResult> ChangelogRestorer::RestoreIfBehind(
    int32_t partition) {
  RestoreResult result;
  TAILOR_ASSIGN_OR_RETURN(
      auto marks,
      reader_->QueryWatermarks(changelog_topic_, partition, kQueryTimeout));
  const auto [low, high] = marks;
  TAILOR_ASSIGN_OR_RETURN(auto local,
                          store_->GetMeta(ChangelogPositionKey(partition)));
  int64_t position = -1;
  if (local.has_value() && !absl::SimpleAtoi(*local, &position)) position = -1;
  if (position >= high || high <= low) return result;  // up to date, or empty

  const absl::Time start = absl::Now();
  int64_t from = position;
  if (position < low) {
    // No local state, or the part of the changelog it would need is gone:
    // start over from the beginning.
    TAILOR_RETURN_IF_ERROR(store_->DropPartition(partition));
    from = low;
  }
  result.from_offset = from;
  result.to_offset = high;
  spdlog::info("restoring partition {} from {}[{}] offsets {}..{}", partition,
               changelog_topic_, partition, from, high);
  progress_.restores.fetch_add(1);
  progress_.remaining.store(high - from);
  absl::Status applied = Apply(partition, from, high, &result);
  progress_.remaining.store(0);
  TAILOR_RETURN_IF_ERROR(applied);
  TAILOR_RETURN_IF_ERROR(ReindexTimers(partition));
  TAILOR_RETURN_IF_ERROR(store_->Flush());
  result.elapsed = absl::Now() - start;
  const double seconds = std::max(absl::ToDoubleSeconds(result.elapsed), 1e-6);
  spdlog::info(
      "restored partition {}: {} records ({} profiles) in {:.2f} s, {:.0f} "
      "records/s{}",
      partition, result.records, result.profiles, seconds,
      result.records / seconds,
      result.checkpoint_found ? "" : ", no checkpoint record");
  return result;
}

absl::Status ChangelogRestorer::Apply(int32_t partition, int64_t from,
                                      int64_t to, RestoreResult* result) {
  TAILOR_RETURN_IF_ERROR(reader_->Assign(
      {kafka::TopicPartition{changelog_topic_, partition, from}}));
  store::ProfileStore::Batch batch = store_->NewBatch();
  tailor::v1::PartitionCheckpoint checkpoint;
  std::vector<kafka::Record> records;
  const absl::Time start = absl::Now();
  const absl::Time deadline = start + absl::Minutes(30);
  absl::Time next_report = start + kProgressEvery;
  for (;;) {
    TAILOR_RETURN_IF_ERROR(
        reader_->PollBatch(10000, absl::Milliseconds(200), &records));
    progress_.applied.fetch_add(static_cast<int64_t>(records.size()));
    for (const kafka::Record& r : records) {
      ++result->records;
      if (r.key() == kCheckpointKey) {
        if (!checkpoint.ParseFromArray(r.value().data(),
                                       static_cast<int>(r.value().size()))) {
          return absl::DataLossError(
              absl::StrCat("corrupt checkpoint record at ", changelog_topic_,
                           "[", partition, "]@", r.offset()));
        }
        result->checkpoint_found = true;
        continue;
      }
      ++result->profiles;
      if (r.value().empty()) {
        batch.DeleteProfile(partition, r.key());
      } else {
        batch.PutProfile(partition, r.key(), r.value());
      }
    }
    if (batch.Count() >= kBulkRecords) {
      TAILOR_RETURN_IF_ERROR(store_->Commit(&batch, /*disable_wal=*/true));
    }
    TAILOR_ASSIGN_OR_RETURN(int64_t next,
                            reader_->Position(changelog_topic_, partition));
    if (next >= to) break;
    progress_.remaining.store(to - next);
    if (const absl::Time now = absl::Now(); now >= next_report) {
      next_report = now + kProgressEvery;
      const double seconds = std::max(absl::ToDoubleSeconds(now - start), 1e-3);
      const double rate = static_cast<double>(next - from) / seconds;
      spdlog::info(
          "restoring {}[{}]: {} of {} records ({:.0f}/s, about {:.0f} s "
          "left)",
          changelog_topic_, partition, next - from, to - from, rate,
          rate > 0 ? static_cast<double>(to - next) / rate : 0.0);
    }
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("restore of ", changelog_topic_, "[", partition,
                       "] stalled at offset ", next, " of ", to));
    }
  }
  records.clear();  // the records must go before the assignment changes
  TAILOR_RETURN_IF_ERROR(reader_->Assign({}));

  if (result->checkpoint_found) {
    for (const auto& position : checkpoint.positions()) {
      batch.PutOffset(position.topic(), partition, position.next_offset());
    }
    batch.PutMeta(PartitionStateKey(partition),
                  checkpoint.state().SerializeAsString());
  }
  batch.PutMeta(ChangelogPositionKey(partition), absl::StrCat(to));
  return store_->Commit(&batch, /*disable_wal=*/true);
}

// Indexes the timers every profile of the partition carries. Index entries
// that no profile holds any more are harmless: they are skipped when they
// fire.
absl::Status ChangelogRestorer::ReindexTimers(int32_t partition) {
  store::ProfileStore::Batch batch = store_->NewBatch();
  tailor::v1::CustomerProfile profile;
  absl::Status status;
  TAILOR_RETURN_IF_ERROR(store_->ForEachProfile(
      partition, [&](absl::string_view customer_id, absl::string_view value) {
        if (!profile.ParseFromArray(value.data(),
                                    static_cast<int>(value.size()))) {
          status = absl::DataLossError(
              absl::StrCat("corrupt restored profile of ", customer_id));
          return false;
        }
        for (const tailor::v1::Timer& timer : profile.pending_timers()) {
          batch.PutTimer(partition, timer.fire_at_ms(), customer_id,
                         timer.timer_id(), timer.SerializeAsString());
        }
        if (batch.Count() >= kBulkRecords) {
          status = store_->Commit(&batch, /*disable_wal=*/true);
          return status.ok();
        }
        return true;
      }));
  TAILOR_RETURN_IF_ERROR(status);
  return store_->Commit(&batch, /*disable_wal=*/true);
}

}  // namespace tailor::pipeline
