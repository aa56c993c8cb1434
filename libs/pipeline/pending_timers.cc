#include "libs/pipeline/pending_timers.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>

#include "tailor/v1/profile.pb.h"

namespace tailor::pipeline {
namespace {

using google::protobuf::internal::WireFormatLite;
using google::protobuf::io::CodedInputStream;

constexpr uint32_t Tag(int field, WireFormatLite::WireType type) {
  return static_cast<uint32_t>(field << 3) | static_cast<uint32_t>(type);
}

constexpr uint32_t kPendingTimersTag =
    Tag(tailor::v1::CustomerProfile::kPendingTimersFieldNumber,
        WireFormatLite::WIRETYPE_LENGTH_DELIMITED);
constexpr uint32_t kFireAtTag = Tag(tailor::v1::Timer::kFireAtMsFieldNumber,
                                    WireFormatLite::WIRETYPE_VARINT);
constexpr uint32_t kTimerIdTag = Tag(tailor::v1::Timer::kTimerIdFieldNumber,
                                     WireFormatLite::WIRETYPE_LENGTH_DELIMITED);

CodedInputStream Reader(absl::string_view bytes) {
  return CodedInputStream(reinterpret_cast<const uint8_t*>(bytes.data()),
                          static_cast<int>(bytes.size()));
}

// Reads a length-delimited field's length and steps over its bytes, which
// it returns as a view into `bytes` (the buffer `in` reads).
bool ReadDelimited(absl::string_view bytes, CodedInputStream* in,
                   absl::string_view* out) {
  uint32_t length = 0;
  if (!in->ReadVarint32(&length)) return false;
  const size_t at = static_cast<size_t>(in->CurrentPosition());
  if (length > bytes.size() - at || !in->Skip(static_cast<int>(length))) {
    return false;
  }
  *out = bytes.substr(at, length);
  return true;
}

bool ScanTimer(absl::string_view timer, int64_t* fire_at_ms,
               absl::string_view* timer_id) {
  CodedInputStream in = Reader(timer);
  *fire_at_ms = 0;
  *timer_id = absl::string_view();
  while (!in.ExpectAtEnd()) {
    const uint32_t tag = in.ReadTag();
    if (tag == 0) return false;
    if (tag == kFireAtTag) {
      uint64_t v = 0;
      if (!in.ReadVarint64(&v)) return false;
      *fire_at_ms = static_cast<int64_t>(v);
    } else if (tag == kTimerIdTag) {
      if (!ReadDelimited(timer, &in, timer_id)) return false;
    } else if (!WireFormatLite::SkipField(&in, tag)) {
      return false;
    }
  }
  return true;
}

}  // namespace

bool ForEachPendingTimer(
    absl::string_view profile,
    absl::FunctionRef<void(int64_t, absl::string_view, absl::string_view)> fn) {
  CodedInputStream in = Reader(profile);
  while (!in.ExpectAtEnd()) {
    const uint32_t tag = in.ReadTag();
    if (tag == 0) return false;
    if (tag != kPendingTimersTag) {
      if (!WireFormatLite::SkipField(&in, tag)) return false;
      continue;
    }
    absl::string_view timer;
    int64_t fire_at_ms = 0;
    absl::string_view timer_id;
    if (!ReadDelimited(profile, &in, &timer) ||
        !ScanTimer(timer, &fire_at_ms, &timer_id)) {
      return false;
    }
    fn(fire_at_ms, timer_id, timer);
  }
  return true;
}

}  // namespace tailor::pipeline
