// File: customer.h
// What tailor holds about one customer, read from outside the service:
// the profile (from a state directory opened as a RocksDB secondary, or from
// the changelog partition of the customer's key) and the records keyed by
// the customer on other topics (decisions, dead letters, audit). Shared by
// `tailor-ops profile` and `tailor-ops export`.
#ifndef TAILOR_TOOLS_OPS_CUSTOMER_H_
#define TAILOR_TOOLS_OPS_CUSTOMER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "libs/kafka/consumer.h"
#include "libs/pipeline/json_view.h"
#include "tailor/v1/profile.pb.h"
#include "tools/ops/keyed_record.h"
#include "tools/ops/progress.h"

namespace tailor::ops {

// The profile as tailor holds it, and where it was read.
struct ProfileLookup {
  int32_t partition = 0;
  std::string source;  // e.g. "state /var/lib/tailor" or "tailor...[3]@812"
  // Absent: never seen, or erased (`erased` tells which when known).
  std::optional<tailor::v1::CustomerProfile> profile;
  bool erased = false;  // a changelog tombstone was the last value
};

// From a state directory, read-only, beside a running service (a RocksDB
// secondary instance with its scratch files in a temporary directory).
absl::StatusOr<ProfileLookup> ProfileFromState(const std::string& state_dir,
                                               absl::string_view customer_id,
                                               int32_t partition);

// From the changelog: only the partition of the key, read from the end
// backwards; the last value of the key wins (a tombstone: erased).
absl::StatusOr<ProfileLookup> ProfileFromChangelog(
    kafka::Consumer& reader, const std::string& changelog,
    absl::string_view customer_id, int32_t partition, Progress* progress);

// The last `max` records keyed `key` on topic[partition] (oldest first),
// read from the end backwards in growing chunks; max <= 0: every one in
// retention (the whole partition, forwards).
absl::StatusOr<std::vector<KeyedRecord>> RecordsWithKey(
    kafka::Consumer& reader, const std::string& topic, int32_t partition,
    absl::string_view key, int64_t max, Progress* progress);

// The partition of `key` on `topic` (murmur2, as tailor's producers place
// it).
absl::StatusOr<int32_t> KeyPartition(kafka::Consumer& reader,
                                     const std::string& topic,
                                     absl::string_view key);

// Adds the lookup to *out: customer_id, partition, source, erased, profile
// (protobuf JSON, without pending_timers) and pending_timers (a deferred
// decision decoded).
void AddProfileLookup(absl::string_view customer_id,
                      const ProfileLookup& lookup, pipeline::JsonObject* out);

// The decisions keyed `customer_id` on `topics` (each read in the
// partition of the key), oldest first by record time; the last `max` of
// each topic (max <= 0: all in retention), and of those the last `max`.
absl::StatusOr<std::vector<KeyedRecord>> DecisionsOf(
    kafka::Consumer& reader, const std::vector<std::string>& topics,
    absl::string_view customer_id, int64_t max, Progress* progress);

// Decision records as a JSON array of {topic, partition, offset, decision}
// (tailor.v1.Decision in protobuf JSON; value_base64 if it does not decode).
std::string DecisionsJson(const std::vector<KeyedRecord>& records);

}  // namespace tailor::ops

#endif  // TAILOR_TOOLS_OPS_CUSTOMER_H_
