#include "tools/ops/dead_letters.h"

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/time/time.h"
#include "libs/pipeline/dead_letter.h"
#include "libs/pipeline/json_view.h"
#include "libs/pipeline/records.h"
#include "tailor/v1/events.pb.h"

namespace tailor::ops {

using pipeline::JsonArray;
using pipeline::JsonObject;
using pipeline::ProtoJson;

std::vector<std::pair<std::string, std::string>> DeadLetter::OriginalHeaders()
    const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& header : headers) {
    if (!pipeline::IsDeadLetterHeader(header.first)) out.push_back(header);
  }
  return out;
}

DeadLetter ReadDeadLetter(KeyedRecord record) {
  DeadLetter d;
  static_cast<KeyedRecord&>(d) = std::move(record);
  // The last of each: an original may carry a header of the same name.
  for (const auto& [name, value] : d.headers) {
    if (name == pipeline::kHeaderError) d.error = value;
    if (name == pipeline::kHeaderSourceTopic) d.source_topic = value;
    if (name == pipeline::kHeaderSourcePartition &&
        !absl::SimpleAtoi(value, &d.source_partition)) {
      d.source_partition = -1;
    }
    if (name == pipeline::kHeaderSourceOffset &&
        !absl::SimpleAtoi(value, &d.source_offset)) {
      d.source_offset = -1;
    }
    if (name == pipeline::kHeaderTruncated) d.truncated = value == "true";
  }
  d.error_class = std::string(pipeline::DeadLetterErrorClass(d.error));
  return d;
}

std::string DeadLetterJson(const DeadLetter& d, bool original) {
  JsonObject o;
  o.String("topic", d.topic)
      .Int("partition", d.partition)
      .Int("offset", d.offset);
  if (d.timestamp_ms >= 0) {
    o.String("time", absl::FormatTime(absl::RFC3339_full,
                                      absl::FromUnixMillis(d.timestamp_ms),
                                      absl::UTCTimeZone()));
  }
  o.Bytes("key", d.key)
      .String("error", d.error)
      .String("error_class", d.error_class)
      .String("source_topic", d.source_topic)
      .Int("source_partition", d.source_partition)
      .Int("source_offset", d.source_offset)
      .Bool("truncated", d.truncated);
  std::vector<std::string> headers;
  for (const auto& [name, value] : d.headers) {
    headers.push_back(
        JsonObject().String("name", name).Bytes("value", value).Done());
  }
  o.Raw("headers", JsonArray(headers));
  if (original) {
    tailor::v1::Event event;
    if (!d.truncated && event.ParseFromString(d.value)) {
      o.Raw("original_event", ProtoJson(event));
    }
    o.String("original_value_base64", absl::Base64Escape(d.value));
  }
  return o.Done();
}

}  // namespace tailor::ops
