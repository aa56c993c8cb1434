// Fuzz target: one changelog record as a restore applies it
// (libs/pipeline/restore.cc) and the processor later reads the result back,
// without Kafka or RocksDB. Input: [selector byte][record]. Selector bit 0
// set: the record is the PartitionCheckpoint (key kCheckpointKey), its
// value the rest of the input; clear: a profile record, [key length byte]
// [key][value], an empty value being a tombstone. Bits 1-3 pick the
// partition, bits 4-7 the timeline that then runs (fuzz_util.h Timeline).
// Checks the store keys and offset values restore writes decode back, and
// that a restored profile or partition state folds and decides without
// fault.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "libs/pipeline/changelog.h"
#include "libs/pipeline/pending_timers.h"
#include "libs/profile/validate.h"
#include "libs/store/keys.h"
#include "tailor/v1/profile.pb.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

namespace fuzz = ::tailor::fuzz;
namespace keys = ::tailor::store::keys;
namespace v1 = ::tailor::v1;

// Input partitions the processor runs in one test; the partition opened is
// one of them.
constexpr int32_t kPartitionCount = 8;
// The customer whose events run against the restored profile.
constexpr absl::string_view kCustomer = "c-restored";

// Runs timeline `variant` of kCustomer through `shop`, as the processor
// does after the restore.
void RunTimeline(int variant, fuzz::Shop* shop) {
  const tailor::profile::ValidationLimits limits;
  for (const fuzz::TopicEvent& e :
       fuzz::Timeline(variant, std::string(kCustomer))) {
    if (!tailor::profile::ValidateEvent(e.event, e.topic, limits, fuzz::kNowMs)
             .ok()) {
      fuzz::Fail("a timeline event is invalid");
    }
    shop->Process(e.event);
  }
  shop->FireAll();
  shop->CheckProfiles();
}

void ApplyCheckpoint(int32_t partition, int variant, absl::string_view value) {
  v1::PartitionCheckpoint checkpoint;
  if (!checkpoint.ParseFromArray(value.data(),
                                 static_cast<int>(value.size()))) {
    return;  // restore: "corrupt checkpoint record"
  }
  for (const v1::InputPosition& position : checkpoint.positions()) {
    keys::OffsetKey(position.topic(), partition);
    const auto offset = keys::DecodeOffsetValue(
        keys::EncodeOffsetValue(position.next_offset()));
    if (!offset.has_value() || *offset != position.next_offset()) {
      fuzz::Fail("an input position does not decode back");
    }
  }
  // Processor::OpenPartition reads the state restore stored.
  fuzz::Shop shop(&fuzz::DefaultEngine());
  if (!shop.state().ParseFromString(checkpoint.state().SerializeAsString())) {
    fuzz::Fail("a restored partition state does not reparse");
  }
  shop.state().set_partition(partition);
  shop.state().set_partition_count(kPartitionCount);
  RunTimeline(variant, &shop);
}

void ApplyProfile(int32_t partition, int variant, absl::string_view key,
                  absl::string_view value) {
  const std::string profile_key = keys::ProfileKey(partition, key);
  const auto parts = keys::DecodeProfileKey(profile_key);
  if (!parts.has_value() || parts->partition != partition ||
      parts->customer_id != key) {
    fuzz::Fail("a profile key does not decode back");
  }
  if (value.empty()) return;  // A tombstone deletes the profile.
  // ChangelogRestorer: the timers read from the profile's bytes without a
  // parse, each indexed under its key (a customer id with a 0x00 byte that
  // holds timers fails the restore).
  std::vector<std::pair<int64_t, std::string>> scanned;
  const bool scanned_ok = ::tailor::pipeline::ForEachPendingTimer(
      value,
      [&](int64_t fire_at_ms, absl::string_view timer_id, absl::string_view) {
        scanned.emplace_back(fire_at_ms, std::string(timer_id));
      });
  if (scanned_ok && keys::ValidCustomerIdForTimer(key)) {
    for (const auto& [fire_at_ms, timer_id] : scanned) {
      const std::string timer_key =
          keys::TimerKey(partition, fire_at_ms, key, timer_id);
      const auto t = keys::DecodeTimerKey(timer_key);
      if (!t.has_value() || t->partition != partition ||
          t->fire_at_ms != fire_at_ms || t->customer_id != key ||
          t->timer_id != timer_id) {
        fuzz::Fail("a timer key does not decode back");
      }
    }
  }
  // The processor parses the profile whole: what it parses, the restore
  // read the same timers from.
  v1::CustomerProfile restored;
  if (!restored.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
    return;  // the processor refuses it as corrupt when it loads it
  }
  if (!scanned_ok ||
      scanned.size() != static_cast<size_t>(restored.pending_timers_size())) {
    fuzz::Fail("the restore read other timers than a parse");
  }
  for (int i = 0; i < restored.pending_timers_size(); ++i) {
    if (scanned[i].first != restored.pending_timers(i).fire_at_ms() ||
        scanned[i].second != restored.pending_timers(i).timer_id()) {
      fuzz::Fail("the restore read other timers than a parse");
    }
  }
  // Processor::LoadProfile: the stored profile of the event's customer.
  fuzz::Shop shop(&fuzz::DefaultEngine());
  shop.state().set_partition(partition);
  shop.state().set_partition_count(kPartitionCount);
  shop.ProfileOf(std::string(kCustomer)) = std::move(restored);
  RunTimeline(variant, &shop);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t selector = data[0];
  const int32_t partition = (selector >> 1) & 7;
  const int variant = selector >> 4;
  absl::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  if (selector & 1) {
    ApplyCheckpoint(partition, variant, rest);
    return 0;
  }
  if (rest.empty()) return 0;
  const size_t key_length =
      std::min<size_t>(static_cast<uint8_t>(rest[0]), rest.size() - 1);
  const absl::string_view key = rest.substr(1, key_length);
  if (key == tailor::pipeline::kCheckpointKey) return 0;  // Not a profile.
  ApplyProfile(partition, variant, key, rest.substr(1 + key_length));
  return 0;
}
