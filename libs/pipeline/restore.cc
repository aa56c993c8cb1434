#include "libs/pipeline/restore.h"

#include <algorithm>
#include <string>
#include <thread>
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

// Records gathered for one ingest: the changes in `load` point into the
// records of `polls`, which are kept until the ingest is done.
struct Chunk {
  store::BulkLoad load;
  std::vector<std::vector<kafka::Record>> polls;
};

// Adds the changelog records of one poll to `load`: each profile (a
// tombstone as a deletion) and the timers it holds, as views into the
// records. The store sorts them when it ingests the chunk (the last change
// of a key wins). Records at or past the end of their partition's restore
// are skipped.
absl::Status AddRecords(
    const std::vector<kafka::Record>& records, const std::string& topic,
    absl::flat_hash_map<int32_t, PartitionRestore>* restores,
    store::BulkLoad* load, RestoreResult* result) {
  for (const kafka::Record& r : records) {
    auto it = restores->find(r.partition());
    if (it == restores->end() || r.offset() >= it->second.to) continue;
    PartitionRestore& p = it->second;
    const int32_t partition = r.partition();
    ++result->records;
    if (r.key() == kCheckpointKey) {
      if (!p.checkpoint.ParseFromArray(r.value().data(),
                                       static_cast<int>(r.value().size()))) {
        return absl::DataLossError(absl::StrCat("corrupt checkpoint record at ",
                                                topic, "[", partition, "]@",
                                                r.offset()));
      }
      p.checkpoint_found = true;
      continue;
    }
    ++result->profiles;
    if (r.value().empty()) {
      load->DeleteProfile(partition, r.key());
      p.erased.emplace(r.key());
      continue;
    }
    load->PutProfile(partition, r.key(), r.value());
    bool timers = false;
    const bool scanned = ForEachPendingTimer(
        r.value(), [&](int64_t fire_at_ms, absl::string_view timer_id,
                       absl::string_view timer) {
          timers = true;
          load->PutTimer(partition, fire_at_ms, r.key(), timer_id, timer);
        });
    if (!scanned) {
      return absl::DataLossError(absl::StrCat("corrupt profile record at ",
                                              topic, "[", partition, "]@",
                                              r.offset()));
    }
    if (timers && !store::keys::ValidCustomerIdForTimer(r.key())) {
      return absl::DataLossError(
          absl::StrCat("a customer id with a 0x00 byte holds timers at ", topic,
                       "[", partition, "]@", r.offset()));
    }
  }
  return absl::OkStatus();
}

// Ingests full chunks on a thread of its own while the reader fills the
// next one: at most one chunk is ingested at a time.
class ChunkIngester {
 public:
  explicit ChunkIngester(store::ProfileStore* store) : store_(store) {}
  ChunkIngester(const ChunkIngester&) = delete;
  ChunkIngester& operator=(const ChunkIngester&) = delete;
  ~ChunkIngester() { Wait().IgnoreError(); }

  // Waits for the chunk before, then starts ingesting `load` (which must
  // stay untouched until the next Start or Wait returns).
  absl::Status Start(store::BulkLoad* load) {
    TAILOR_RETURN_IF_ERROR(Wait());
    thread_ = std::thread([this, load] { status_ = store_->Ingest(load); });
    return absl::OkStatus();
  }

  // Waits for the running ingest; returns the first error of any.
  absl::Status Wait() {
    if (thread_.joinable()) thread_.join();
    return status_;
  }

 private:
  store::ProfileStore* store_;
  std::thread thread_;
  absl::Status status_;
};

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
                                     std::string changelog_topic,
                                     size_t chunk_bytes)
    : store_(store),
      reader_(reader),
      changelog_topic_(std::move(changelog_topic)),
      chunk_bytes_(chunk_bytes) {}

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

  // The reader fills one chunk while the ingester adds the one before it
  // to the store. Declared before the ingester, which finishes its chunk
  // when it goes.
  Chunk chunks[2];
  ChunkIngester ingester(store_);
  Chunk* chunk = &chunks[0];
  const auto hand_off = [&]() -> absl::Status {
    TAILOR_RETURN_IF_ERROR(ingester.Start(&chunk->load));
    // Start waited for the other chunk's ingest: its records can go.
    chunk = chunk == &chunks[0] ? &chunks[1] : &chunks[0];
    chunk->polls.clear();
    return absl::OkStatus();
  };

  std::vector<kafka::Record> records;
  const absl::Time start = absl::Now();
  absl::Time last_progress = start;
  absl::Time next_report = start + kProgressEvery;
  int64_t left = total;
  for (;;) {
    TAILOR_RETURN_IF_ERROR(
        reader_->PollBatch(kPollRecords, absl::Milliseconds(200), &records));
    const bool read_some = !records.empty();
    progress_.applied.fetch_add(static_cast<int64_t>(records.size()));
    TAILOR_RETURN_IF_ERROR(
        AddRecords(records, changelog_topic_, &restores, &chunk->load, result));
    if (read_some) chunk->polls.push_back(std::move(records));
    records.clear();
    if (chunk->load.ByteSize() >= chunk_bytes_) {
      TAILOR_RETURN_IF_ERROR(hand_off());
    }

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
    if (now_left < left || read_some) last_progress = now;
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
  // Everything read is in the store before the timers are checked
  // against it.
  TAILOR_RETURN_IF_ERROR(hand_off());
  TAILOR_RETURN_IF_ERROR(ingester.Wait());
  // The records must go before the assignment changes.
  for (Chunk& c : chunks) c.polls.clear();
  TAILOR_RETURN_IF_ERROR(reader_->Assign({}));

  store::ProfileStore::Batch batch = store_->NewBatch();

  for (const auto& [partition, p] : restores) {
    TAILOR_RETURN_IF_ERROR(
        DropTimersOfErased(store_, partition, p.erased, &batch));
  }
  // The positions last, after the data they describe: until they are
  // written, the next restore reads the same records again.
  for (const auto& [partition, p] : restores) {
    if (p.checkpoint_found) {
      ++result->checkpoints;
      for (const auto& position : p.checkpoint.positions()) {
        batch.PutOffset(position.topic(), partition, position.next_offset());
      }
      batch.PutMeta(PartitionStateKey(partition),
                    p.checkpoint.state().SerializeAsString());
    }
    batch.PutMeta(ChangelogPositionKey(partition), absl::StrCat(p.to));
  }
  return store_->Commit(&batch, /*disable_wal=*/true);
}

}  // namespace tailor::pipeline
