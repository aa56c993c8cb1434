#include "libs/pipeline/restore.h"

#include <algorithm>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "libs/base/log.h"
#include "libs/base/status_macros.h"
#include "libs/pipeline/changelog.h"
#include "libs/pipeline/pending_timers.h"
#include "libs/pipeline/state_writer.h"
#include "libs/store/keys.h"
#include "tailor/v1/profile.pb.h"

namespace tailor::pipeline {
namespace {

// How often a running restore logs its progress.
constexpr absl::Duration kProgressEvery = absl::Seconds(5);
// A restore that reads nothing new for this long has stalled.
constexpr absl::Duration kStallTimeout = absl::Minutes(10);

constexpr absl::Duration kQueryTimeout = absl::Seconds(10);
constexpr size_t kPollRecords = 20000;  // records per poll of the reader
constexpr size_t kBulkRecords = 20000;  // records per WAL-less batch
// Batches filled or being written at a time: the reader fills one while
// the writer thread writes the others.
constexpr size_t kBatchesInFlight = 3;

// What the restore of one partition gathers on the way.
struct PartitionRestore {
  int64_t from = 0;
  int64_t to = 0;
  int64_t position = 0;  // next offset to read
  bool done = false;
  bool checkpoint_found = false;
  tailor::v1::PartitionCheckpoint checkpoint;
  // Customers whose profile a tombstone deleted in this restore: the
  // timers indexed for them are checked against their final profile.
  absl::flat_hash_set<std::string> erased;
};

// Reused storage of AddRecords.
struct SortScratch {
  std::vector<const kafka::Record*> records;
  struct Timer {
    int32_t partition;
    int64_t fire_at_ms;
    absl::string_view customer_id;
    absl::string_view timer_id;
    absl::string_view bytes;
  };
  std::vector<Timer> timers;
};

// Adds the changelog records of one poll to `batch`: profiles in key order
// (the records of one key keep their offset order, so the last one wins),
// then their timers in timer key order. Sorted writes are what RocksDB's
// memtable inserts fastest: each insert starts where the previous one
// ended. Records at or past the end of their partition's restore are
// skipped.
absl::Status AddRecords(
    const std::vector<kafka::Record>& records, const std::string& topic,
    absl::flat_hash_map<int32_t, PartitionRestore>* restores,
    store::ProfileStore::Batch* batch, RestoreResult* result,
    SortScratch* scratch) {
  scratch->records.clear();
  scratch->timers.clear();
  for (const kafka::Record& r : records) scratch->records.push_back(&r);
  std::stable_sort(scratch->records.begin(), scratch->records.end(),
                   [](const kafka::Record* a, const kafka::Record* b) {
                     return a->partition() != b->partition()
                                ? a->partition() < b->partition()
                                : a->key() < b->key();
                   });
  for (const kafka::Record* r : scratch->records) {
    auto it = restores->find(r->partition());
    if (it == restores->end() || r->offset() >= it->second.to) continue;
    PartitionRestore& p = it->second;
    const int32_t partition = r->partition();
    ++result->records;
    if (r->key() == kCheckpointKey) {
      if (!p.checkpoint.ParseFromArray(r->value().data(),
                                       static_cast<int>(r->value().size()))) {
        return absl::DataLossError(absl::StrCat("corrupt checkpoint record at ",
                                                topic, "[", partition, "]@",
                                                r->offset()));
      }
      p.checkpoint_found = true;
      continue;
    }
    ++result->profiles;
    if (r->value().empty()) {
      batch->DeleteProfile(partition, r->key());
      p.erased.emplace(r->key());
      continue;
    }
    batch->PutProfile(partition, r->key(), r->value());
    const size_t timers_before = scratch->timers.size();
    const bool scanned = ForEachPendingTimer(
        r->value(), [&](int64_t fire_at_ms, absl::string_view timer_id,
                        absl::string_view timer) {
          scratch->timers.push_back(
              {partition, fire_at_ms, r->key(), timer_id, timer});
        });
    if (!scanned) {
      return absl::DataLossError(absl::StrCat("corrupt profile record at ",
                                              topic, "[", partition, "]@",
                                              r->offset()));
    }
    if (scratch->timers.size() > timers_before &&
        !store::keys::ValidCustomerIdForTimer(r->key())) {
      return absl::DataLossError(
          absl::StrCat("a customer id with a 0x00 byte holds timers at ", topic,
                       "[", partition, "]@", r->offset()));
    }
  }
  using Timer = SortScratch::Timer;
  std::stable_sort(
      scratch->timers.begin(), scratch->timers.end(),
      [](const Timer& a, const Timer& b) {
        return std::tie(a.partition, a.fire_at_ms, a.customer_id, a.timer_id) <
               std::tie(b.partition, b.fire_at_ms, b.customer_id, b.timer_id);
      });
  for (const Timer& t : scratch->timers) {
    batch->PutTimer(t.partition, t.fire_at_ms, t.customer_id, t.timer_id,
                    t.bytes);
  }
  return absl::OkStatus();
}

// Timers indexed for a customer a later tombstone erased must not stay
// (they hold the customer's id): adds to `batch` the deletion of every
// timer of `partition` whose customer is in `erased`, unless the customer's
// final profile holds it (the customer was created again).
absl::Status DropTimersOfErased(store::ProfileStore* store, int32_t partition,
                                const absl::flat_hash_set<std::string>& erased,
                                store::ProfileStore::Batch* batch) {
  if (erased.empty()) return absl::OkStatus();
  struct Indexed {
    int64_t fire_at_ms;
    std::string customer_id;
    std::string timer_id;
  };
  std::vector<Indexed> candidates;
  TAILOR_RETURN_IF_ERROR(store->ForEachTimer(
      partition, [&](int64_t fire_at_ms, absl::string_view customer_id,
                     absl::string_view timer_id, absl::string_view) {
        if (erased.contains(customer_id)) {
          candidates.push_back(
              {fire_at_ms, std::string(customer_id), std::string(timer_id)});
        }
        return true;
      }));
  std::string profile;
  for (const Indexed& t : candidates) {
    TAILOR_ASSIGN_OR_RETURN(
        const bool found,
        store->GetProfile(partition, t.customer_id, &profile));
    bool held = false;
    if (found) {
      ForEachPendingTimer(profile, [&](int64_t fire_at_ms,
                                       absl::string_view timer_id,
                                       absl::string_view) {
        held = held || (fire_at_ms == t.fire_at_ms && timer_id == t.timer_id);
      });
    }
    if (!held) {
      batch->DeleteTimer(partition, t.fire_at_ms, t.customer_id, t.timer_id);
    }
  }
  return absl::OkStatus();
}

}  // namespace

ChangelogRestorer::ChangelogRestorer(store::ProfileStore* store,
                                     kafka::Consumer* reader,
                                     std::string changelog_topic)
    : store_(store),
      reader_(reader),
      changelog_topic_(std::move(changelog_topic)) {}

absl::StatusOr<RestoreResult> ChangelogRestorer::Restore(
    absl::Span<const int32_t> partitions) {
  RestoreResult result;
  const absl::Time start = absl::Now();
  std::vector<Range> ranges;
  absl::flat_hash_set<int32_t> seen;
  for (const int32_t partition : partitions) {
    if (!seen.insert(partition).second) continue;
    TAILOR_ASSIGN_OR_RETURN(
        auto marks,
        reader_->QueryWatermarks(changelog_topic_, partition, kQueryTimeout));
    const auto [low, high] = marks;
    TAILOR_ASSIGN_OR_RETURN(auto local,
                            store_->GetMeta(ChangelogPositionKey(partition)));
    int64_t position = -1;
    if (local.has_value() && !absl::SimpleAtoi(*local, &position)) {
      position = -1;
    }
    if (position >= high || high <= low) continue;  // up to date, or empty
    if (position < low) {
      // No local state, or the part of the changelog it would need is
      // gone: start over from the beginning.
      TAILOR_RETURN_IF_ERROR(store_->DropPartition(partition));
      position = low;
    }
    ranges.push_back({partition, position, high});
  }
  if (ranges.empty()) return result;

  int64_t total = 0;
  for (const Range& r : ranges) total += r.to - r.from;
  result.partitions = static_cast<int>(ranges.size());
  std::string numbers;
  for (const Range& r : ranges) {
    absl::StrAppend(&numbers, numbers.empty() ? "" : ",", r.partition);
  }
  spdlog::info("restoring partitions {} of {} together: {} records", numbers,
               changelog_topic_, total);
  progress_.restores.fetch_add(static_cast<int64_t>(ranges.size()));
  progress_.restoring.store(static_cast<int64_t>(ranges.size()));
  progress_.remaining.store(total);
  absl::Status applied = Apply(ranges, &result);
  if (applied.ok()) applied = store_->Flush();
  progress_.remaining.store(0);
  progress_.restoring.store(0);
  TAILOR_RETURN_IF_ERROR(applied);
  result.elapsed = absl::Now() - start;
  const double seconds = std::max(absl::ToDoubleSeconds(result.elapsed), 1e-6);
  spdlog::info(
      "restored {} partitions of {}: {} records ({} profiles) in {:.2f} s, "
      "{:.0f} records/s{}",
      result.partitions, changelog_topic_, result.records, result.profiles,
      seconds, result.records / seconds,
      result.checkpoints == result.partitions
          ? ""
          : absl::StrCat(", ", result.partitions - result.checkpoints,
                         " without a checkpoint record"));
  return result;
}

absl::Status ChangelogRestorer::Apply(absl::Span<const Range> ranges,
                                      RestoreResult* result) {
  absl::flat_hash_map<int32_t, PartitionRestore> restores;
  std::vector<kafka::TopicPartition> assignment;
  int64_t total = 0;
  for (const Range& r : ranges) {
    PartitionRestore& p = restores[r.partition];
    p.from = p.position = r.from;
    p.to = r.to;
    assignment.push_back({changelog_topic_, r.partition, r.from});
    total += r.to - r.from;
  }
  TAILOR_RETURN_IF_ERROR(reader_->Assign(assignment));

  // The reader fills one batch while the writer thread writes the ones
  // before it (each is cleared by its write and used again). Declared
  // before the writer, which finishes its queue when it goes.
  std::vector<store::ProfileStore::Batch> batches;
  for (size_t i = 0; i < kBatchesInFlight; ++i) {
    batches.push_back(store_->NewBatch());
  }
  StateWriter writer(store_, /*disable_wal=*/true);
  uint64_t submitted = 0;
  store::ProfileStore::Batch* batch = &batches[0];
  const auto submit = [&] {
    writer.Submit(++submitted, batch);
    batch = &batches[submitted % kBatchesInFlight];
    if (submitted >= kBatchesInFlight) {
      writer.WaitFor(submitted + 1 - kBatchesInFlight);
    }
  };

  std::vector<kafka::Record> records;
  SortScratch scratch;
  const absl::Time start = absl::Now();
  absl::Time last_progress = start;
  absl::Time next_report = start + kProgressEvery;
  int64_t left = total;
  for (;;) {
    TAILOR_RETURN_IF_ERROR(
        reader_->PollBatch(kPollRecords, absl::Milliseconds(200), &records));
    progress_.applied.fetch_add(static_cast<int64_t>(records.size()));
    TAILOR_RETURN_IF_ERROR(AddRecords(records, changelog_topic_, &restores,
                                      batch, result, &scratch));
    if (batch->Count() >= kBulkRecords) submit();

    int64_t now_left = 0;
    bool all_done = true;
    for (auto& [partition, p] : restores) {
      if (p.done) continue;
      TAILOR_ASSIGN_OR_RETURN(const int64_t next,
                              reader_->Position(changelog_topic_, partition));
      p.position = std::max(p.position, next);
      p.done = p.position >= p.to;
      all_done = all_done && p.done;
      if (!p.done) now_left += p.to - p.position;
    }
    const absl::Time now = absl::Now();
    if (now_left < left || !records.empty()) last_progress = now;
    left = now_left;
    progress_.remaining.store(left);
    if (all_done) break;
    if (now >= next_report) {
      next_report = now + kProgressEvery;
      const double seconds = std::max(absl::ToDoubleSeconds(now - start), 1e-3);
      const double rate = static_cast<double>(total - left) / seconds;
      spdlog::info(
          "restoring {} partitions of {}: {} of {} records ({:.0f}/s, about "
          "{:.0f} s left)",
          restores.size(), changelog_topic_, total - left, total, rate,
          rate > 0 ? static_cast<double>(left) / rate : 0.0);
    }
    if (now - last_progress > kStallTimeout) {
      return absl::DeadlineExceededError(absl::StrCat(
          "restore of ", restores.size(), " partitions of ", changelog_topic_,
          " stalled with ", left, " of ", total, " records left"));
    }
  }
  records.clear();  // the records must go before the assignment changes
  TAILOR_RETURN_IF_ERROR(reader_->Assign({}));

  // Everything read is written before the timers are checked against it.
  submit();
  writer.WaitFor(submitted);

  for (const auto& [partition, p] : restores) {
    TAILOR_RETURN_IF_ERROR(
        DropTimersOfErased(store_, partition, p.erased, batch));
  }
  // The positions last: until they are written, the next restore reads
  // the same records again.
  for (const auto& [partition, p] : restores) {
    if (p.checkpoint_found) {
      ++result->checkpoints;
      for (const auto& position : p.checkpoint.positions()) {
        batch->PutOffset(position.topic(), partition, position.next_offset());
      }
      batch->PutMeta(PartitionStateKey(partition),
                     p.checkpoint.state().SerializeAsString());
    }
    batch->PutMeta(ChangelogPositionKey(partition), absl::StrCat(p.to));
  }
  submit();
  writer.WaitFor(submitted);
  return absl::OkStatus();
}

}  // namespace tailor::pipeline
