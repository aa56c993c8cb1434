#include "libs/pipeline/order_time.h"

#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"
#include "libs/pipeline/task_inputs.h"
#include "tailor/v1/events.pb.h"

namespace tailor::pipeline {

int64_t OrderTimeOf(absl::string_view event_bytes,
                    const profile::ValidationLimits& limits,
                    int64_t wall_now_ms) {
  using google::protobuf::internal::WireFormatLite;
  constexpr uint32_t kTimeTag =
      WireFormatLite::MakeTag(tailor::v1::Event::kEventTimeMsFieldNumber,
                              WireFormatLite::WIRETYPE_VARINT);
  google::protobuf::io::CodedInputStream in(
      reinterpret_cast<const uint8_t*>(event_bytes.data()),
      static_cast<int>(event_bytes.size()));
  int64_t time_ms = 0;
  while (const uint32_t tag = in.ReadTag()) {
    if (tag == kTimeTag) {
      uint64_t value = 0;
      if (!in.ReadVarint64(&value)) return kUntimed;
      time_ms = static_cast<int64_t>(value);  // the last one wins
    } else if (!WireFormatLite::SkipField(&in, tag)) {
      return kUntimed;
    }
  }
  if (!in.ConsumedEntireMessage()) return kUntimed;
  const int64_t skew =
      limits.max_future_skew_ms < 0 ? 0 : limits.max_future_skew_ms;
  if (time_ms == 0 || time_ms < limits.min_event_time_ms ||
      time_ms - skew > wall_now_ms) {
    return kUntimed;
  }
  return time_ms;
}

}  // namespace tailor::pipeline
