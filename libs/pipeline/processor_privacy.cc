// The Processor's privacy duties: audit records of erasures, consent
// changes, opt-outs and retention expiries; what an opt-out leaves behind;
// and the retention sweep. Split from processor.cc by concern.
#include <algorithm>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "libs/base/keyed_hash.h"
#include "libs/base/stable_hash.h"
#include "libs/base/status_macros.h"
#include "libs/pipeline/processor.h"

namespace tailor::pipeline {
namespace {

using tailor::v1::AuditRecord;

constexpr int64_t kDayMs = 24LL * 3600 * 1000;

// Start of the UTC day of `t_ms`.
int64_t DayStart(int64_t t_ms) {
  const int64_t day = t_ms / kDayMs - (t_ms % kDayMs < 0 ? 1 : 0);
  return day * kDayMs;
}

// Whether a profile is past retention: untouched since before `cutoff_ms`
// and not holding a profiling opt-out (kept to honour it).
bool Idle(const tailor::v1::CustomerProfile& profile, int64_t cutoff_ms) {
  return !profile.profiling_opt_out() && profile.last_seen_ms() < cutoff_ms;
}

}  // namespace

void Processor::ForgetProfile(PartitionTask& task, CachedProfile* entry,
                              absl::string_view customer_id) {
  entry->profile.Clear();
  entry->profile.set_customer_id(std::string(customer_id));
  entry->exists = false;
  entry->erased = true;
  task.profiles.MarkDirty(entry);
}

void Processor::AfterPrivacyEvent(PartitionTask& task, CachedProfile* entry,
                                  const tailor::v1::Event& event,
                                  const InputRecord& rec, bool was_opted_out) {
  AuditRecord record;
  record.set_event_time_ms(event.event_time_ms());
  record.set_source_topic(std::string(rec.topic));
  record.set_source_partition(rec.partition);
  record.set_source_offset(rec.offset);
  if (event.has_erasure_requested()) {
    record.set_action(tailor::v1::AUDIT_ACTION_ERASED);
    record.set_request_id(event.erasure_requested().request_id());
    EmitAudit(task, event.customer_id(), &record);
    return;
  }
  if (!event.has_consent_updated()) return;
  record.set_action(tailor::v1::AUDIT_ACTION_CONSENT_CHANGED);
  *record.mutable_channels() = entry->profile.consented_channels();
  EmitAudit(task, event.customer_id(), &record);
  const bool opted_out = entry->profile.profiling_opt_out();
  if (opted_out == was_opted_out) return;
  record.clear_channels();
  record.set_action(opted_out ? tailor::v1::AUDIT_ACTION_PROFILING_OPTED_OUT
                              : tailor::v1::AUDIT_ACTION_PROFILING_OPTED_IN);
  EmitAudit(task, event.customer_id(), &record);
  if (opted_out) {
    // The fold kept only the consent; the timers go as well, and the files
    // that still hold the old profile are purged.
    task.timers.RemoveAll(event.customer_id(), timers_before_fold_);
    batch_.RequestPurge();
  }
}

void Processor::EmitAudit(const PartitionTask& task,
                          absl::string_view customer_id, AuditRecord* record) {
  ++stats_.audit_records;
  record->set_customer_hash(KeyedHashHex(options_.audit_salt, customer_id));
  record->set_processed_at_ms(
      std::max(task.stream_time_ms, record->event_time_ms()));
  record->set_instance(options_.instance);
  record->set_audit_id(StableHashHex128(
      {record->customer_hash(),
       absl::StrCat(record->action(), "/", record->event_time_ms(), "/",
                    record->source_partition(), "/", record->source_offset()),
       record->source_topic()}));
  outputs_.push_back(OutputRecord{OutputKind::kAudit,
                                  options_.topics.audit(),
                                  -1,
                                  record->customer_hash(),
                                  record->SerializeAsString(),
                                  {}});
}

absl::Status Processor::SweepIfDue(PartitionTask& task) {
  if (options_.profile_retention_ms <= 0 ||
      task.stream_time_ms == std::numeric_limits<int64_t>::min()) {
    return absl::OkStatus();
  }
  const int64_t day = DayStart(task.stream_time_ms);
  if (task.swept_day_ms == std::numeric_limits<int64_t>::min()) {
    // The sweep of the day of the written stream time, if that day was
    // reached in an earlier run, went into the same commit.
    const int64_t written = task.state.stream_time_ms();
    task.swept_day_ms = written != 0 ? DayStart(written) : day;
  }
  if (day <= task.swept_day_ms) return absl::OkStatus();
  task.swept_day_ms = day;
  // Timers due before the midnight fire first, as they would have had
  // stream time stopped there.
  const int64_t now_ms = task.stream_time_ms;
  task.stream_time_ms = day;
  absl::Status fired = FireDue(task);
  task.stream_time_ms = now_ms;
  TAILOR_RETURN_IF_ERROR(fired);
  return ExpireIdle(task, day);
}

absl::Status Processor::ExpireIdle(PartitionTask& task, int64_t swept_at_ms) {
  const int64_t cutoff = swept_at_ms - options_.profile_retention_ms;
  std::vector<std::string> expired;
  // A cached profile is newer than the stored one (a write may be pending).
  task.profiles.ForEach([&](const std::string& id, const CachedProfile& e) {
    if (e.exists && Idle(e.profile, cutoff)) expired.push_back(id);
  });
  tailor::v1::CustomerProfile stored;
  absl::Status parse_error;
  TAILOR_RETURN_IF_ERROR(store_->ForEachProfile(
      task.partition, [&](absl::string_view id, absl::string_view value) {
        if (task.profiles.Find(id) != nullptr) return true;
        if (!stored.ParseFromArray(value.data(),
                                   static_cast<int>(value.size()))) {
          parse_error = absl::DataLossError(
              absl::StrCat("corrupt profile in partition ", task.partition));
          return false;
        }
        if (Idle(stored, cutoff)) expired.emplace_back(id);
        return true;
      }));
  TAILOR_RETURN_IF_ERROR(parse_error);
  if (expired.empty()) return absl::OkStatus();
  for (const std::string& id : expired) {
    TAILOR_ASSIGN_OR_RETURN(CachedProfile * entry, LoadProfile(task, id));
    task.timers.RemoveAll(id, entry->profile.pending_timers());
    ForgetProfile(task, entry, id);
    ++stats_.profiles_expired;
    AuditRecord record;
    record.set_action(tailor::v1::AUDIT_ACTION_RETENTION_EXPIRED);
    record.set_event_time_ms(swept_at_ms);
    record.set_source_partition(task.partition);
    EmitAudit(task, id, &record);
  }
  return absl::OkStatus();
}

}  // namespace tailor::pipeline
