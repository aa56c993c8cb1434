// File: keys.h
// Byte layout of the keys in the profile store. Every profile and timer key
// starts with its input partition as a big-endian uint32, so one partition's
// state is a contiguous key range that can be scanned, dropped or restored on
// its own. Pure functions; no RocksDB types.
//
//   profiles: [partition u32 BE][customer_id]
//   timers:   [partition u32 BE][fire_at_ms i64 BE, sign bit flipped]
//             [customer_id][0x00][timer_id]
//   meta:     "offset/<topic>/<partition>"  -> EncodeOffsetValue()
//             "pstate/<partition>"          -> tailor.v1.PartitionState
//             "purges"                      -> EncodeOffsetValue(count)
#ifndef TAILOR_LIBS_STORE_KEYS_H_
#define TAILOR_LIBS_STORE_KEYS_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace tailor::store::keys {

// Size of the partition prefix of profile and timer keys.
inline constexpr size_t kPartitionPrefixSize = 4;
// Size of the fixed part of a timer key: partition and fire time.
inline constexpr size_t kTimerFixedSize = kPartitionPrefixSize + 8;

// Appends the 4-byte big-endian partition prefix to *out.
void AppendPartitionPrefix(int32_t partition, std::string* out);
// The 4-byte big-endian partition prefix.
std::string PartitionPrefix(int32_t partition);
// The first key after every key of `partition` (the prefix of partition + 1).
// Requires partition >= 0, as Kafka partitions are.
std::string PartitionUpperBound(int32_t partition);

// Profile key. The Append form reuses *out's storage (it is cleared first).
void EncodeProfileKey(int32_t partition, absl::string_view customer_id,
                      std::string* out);
std::string ProfileKey(int32_t partition, absl::string_view customer_id);

struct ProfileKeyParts {
  int32_t partition = 0;
  absl::string_view customer_id;  // Points into the decoded key.
};
// Returns nullopt if `key` is shorter than the partition prefix.
std::optional<ProfileKeyParts> DecodeProfileKey(absl::string_view key);

// Maps an int64 onto a uint64 whose unsigned order is the int64's numeric
// order (flips the sign bit), and back.
uint64_t OrderPreservingFromInt64(int64_t v);
int64_t Int64FromOrderPreserving(uint64_t v);

// Timer key. customer_id must not contain a 0x00 byte (it ends the customer
// id in the key); see ValidCustomerIdForTimer().
void EncodeTimerKey(int32_t partition, int64_t fire_at_ms,
                    absl::string_view customer_id, absl::string_view timer_id,
                    std::string* out);
std::string TimerKey(int32_t partition, int64_t fire_at_ms,
                     absl::string_view customer_id, absl::string_view timer_id);
bool ValidCustomerIdForTimer(absl::string_view customer_id);

struct TimerKeyParts {
  int32_t partition = 0;
  int64_t fire_at_ms = 0;
  absl::string_view customer_id;  // Points into the decoded key.
  absl::string_view timer_id;     // Points into the decoded key.
};
// Returns nullopt if `key` is not a well-formed timer key.
std::optional<TimerKeyParts> DecodeTimerKey(absl::string_view key);

// Meta keys.
inline constexpr absl::string_view kOffsetKeyPrefix = "offset/";
inline constexpr absl::string_view kPartitionStateKeyPrefix = "pstate/";
// Purges of deleted data run (ProfileStore::Purge()), written by each.
inline constexpr absl::string_view kPurgesKey = "purges";
// "offset/<topic>/<partition>", partition in decimal.
std::string OffsetKey(absl::string_view topic, int32_t partition);
struct OffsetKeyParts {
  absl::string_view topic;  // Points into the decoded key.
  int32_t partition = 0;
};
// Returns nullopt unless `key` is "offset/<topic>/<decimal partition>".
std::optional<OffsetKeyParts> DecodeOffsetKey(absl::string_view key);
// "pstate/<partition>", partition in decimal.
std::string PartitionStateKey(int32_t partition);

// An offset value: 8 bytes, big-endian two's complement.
std::string EncodeOffsetValue(int64_t offset);
// Returns nullopt unless `value` is exactly 8 bytes.
std::optional<int64_t> DecodeOffsetValue(absl::string_view value);

}  // namespace tailor::store::keys

#endif  // TAILOR_LIBS_STORE_KEYS_H_
