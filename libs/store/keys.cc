#include "libs/store/keys.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace tailor::store::keys {
namespace {

void AppendBigEndian32(uint32_t v, std::string* out) {
  char buf[4];
  for (int i = 3; i >= 0; --i) {
    buf[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  out->append(buf, sizeof(buf));
}

void AppendBigEndian64(uint64_t v, std::string* out) {
  char buf[8];
  for (int i = 7; i >= 0; --i) {
    buf[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  out->append(buf, sizeof(buf));
}

uint32_t ReadBigEndian32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

uint64_t ReadBigEndian64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

constexpr uint64_t kSignBit = uint64_t{1} << 63;

}  // namespace

void AppendPartitionPrefix(int32_t partition, std::string* out) {
  AppendBigEndian32(static_cast<uint32_t>(partition), out);
}

std::string PartitionPrefix(int32_t partition) {
  std::string out;
  AppendPartitionPrefix(partition, &out);
  return out;
}

std::string PartitionUpperBound(int32_t partition) {
  std::string out;
  AppendBigEndian32(static_cast<uint32_t>(partition) + 1, &out);
  return out;
}

void EncodeProfileKey(int32_t partition, absl::string_view customer_id,
                      std::string* out) {
  out->clear();
  out->reserve(kPartitionPrefixSize + customer_id.size());
  AppendPartitionPrefix(partition, out);
  out->append(customer_id.data(), customer_id.size());
}

std::string ProfileKey(int32_t partition, absl::string_view customer_id) {
  std::string out;
  EncodeProfileKey(partition, customer_id, &out);
  return out;
}

std::optional<ProfileKeyParts> DecodeProfileKey(absl::string_view key) {
  if (key.size() < kPartitionPrefixSize) return std::nullopt;
  ProfileKeyParts parts;
  parts.partition = static_cast<int32_t>(ReadBigEndian32(key.data()));
  parts.customer_id = key.substr(kPartitionPrefixSize);
  return parts;
}

uint64_t OrderPreservingFromInt64(int64_t v) {
  return static_cast<uint64_t>(v) ^ kSignBit;
}

int64_t Int64FromOrderPreserving(uint64_t v) {
  return static_cast<int64_t>(v ^ kSignBit);
}

void EncodeTimerKey(int32_t partition, int64_t fire_at_ms,
                    absl::string_view customer_id, absl::string_view timer_id,
                    std::string* out) {
  out->clear();
  out->reserve(kTimerFixedSize + customer_id.size() + 1 + timer_id.size());
  AppendPartitionPrefix(partition, out);
  AppendBigEndian64(OrderPreservingFromInt64(fire_at_ms), out);
  out->append(customer_id.data(), customer_id.size());
  out->push_back('\0');
  out->append(timer_id.data(), timer_id.size());
}

std::string TimerKey(int32_t partition, int64_t fire_at_ms,
                     absl::string_view customer_id,
                     absl::string_view timer_id) {
  std::string out;
  EncodeTimerKey(partition, fire_at_ms, customer_id, timer_id, &out);
  return out;
}

bool ValidCustomerIdForTimer(absl::string_view customer_id) {
  return customer_id.find('\0') == absl::string_view::npos;
}

std::optional<TimerKeyParts> DecodeTimerKey(absl::string_view key) {
  if (key.size() < kTimerFixedSize + 1) return std::nullopt;
  absl::string_view rest = key.substr(kTimerFixedSize);
  const size_t nul = rest.find('\0');
  if (nul == absl::string_view::npos) return std::nullopt;
  TimerKeyParts parts;
  parts.partition = static_cast<int32_t>(ReadBigEndian32(key.data()));
  parts.fire_at_ms = Int64FromOrderPreserving(
      ReadBigEndian64(key.data() + kPartitionPrefixSize));
  parts.customer_id = rest.substr(0, nul);
  parts.timer_id = rest.substr(nul + 1);
  return parts;
}

std::string OffsetKey(absl::string_view topic, int32_t partition) {
  return absl::StrCat(kOffsetKeyPrefix, topic, "/", partition);
}

std::optional<OffsetKeyParts> DecodeOffsetKey(absl::string_view key) {
  if (!absl::StartsWith(key, kOffsetKeyPrefix)) return std::nullopt;
  key.remove_prefix(kOffsetKeyPrefix.size());
  const size_t slash = key.rfind('/');
  if (slash == absl::string_view::npos || slash == 0) return std::nullopt;
  OffsetKeyParts parts;
  parts.topic = key.substr(0, slash);
  absl::string_view number = key.substr(slash + 1);
  if (number.empty() ||
      number.find_first_not_of("0123456789") != absl::string_view::npos) {
    return std::nullopt;
  }
  if (!absl::SimpleAtoi(number, &parts.partition)) return std::nullopt;
  return parts;
}

std::string PartitionStateKey(int32_t partition) {
  return absl::StrCat(kPartitionStateKeyPrefix, partition);
}

std::string EncodeOffsetValue(int64_t offset) {
  std::string out;
  AppendBigEndian64(static_cast<uint64_t>(offset), &out);
  return out;
}

std::optional<int64_t> DecodeOffsetValue(absl::string_view value) {
  if (value.size() != 8) return std::nullopt;
  return static_cast<int64_t>(ReadBigEndian64(value.data()));
}

}  // namespace tailor::store::keys
