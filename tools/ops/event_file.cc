#include "tools/ops/event_file.h"

#include <algorithm>
#include <fstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "google/protobuf/stubs/common.h"
#include "google/protobuf/util/json_util.h"
#include "librdkafka/rdkafka.h"

namespace tailor::ops {

tailor::v1::EventRecord ToEventRecord(const kafka::Record& record) {
  tailor::v1::EventRecord out;
  const rd_kafka_message_t* raw = record.raw();
  out.set_topic(std::string(record.topic()));
  out.set_partition(record.partition());
  out.set_offset(record.offset());
  out.set_timestamp_ms(std::max<int64_t>(record.timestamp_ms(), 0));
  if (raw->key != nullptr) {
    const std::string key(record.key());
    if (google::protobuf::internal::IsStructurallyValidUTF8(
            key.data(), static_cast<int>(key.size()))) {
      out.set_key(key);
    } else {
      out.set_key_bytes(key);
    }
  }
  if (raw->payload == nullptr) {
    out.set_null_value(true);
  } else {
    const absl::string_view value = record.value();
    // `event` only when it stands for exactly these bytes: its JSON keeps
    // every known field, so it must hold no unknown ones and encode back to
    // the same bytes.
    tailor::v1::Event event;
    if (event.ParseFromArray(value.data(), static_cast<int>(value.size())) &&
        [&] {
          tailor::v1::Event known = event;
          known.DiscardUnknownFields();
          return known.SerializeAsString() == value;
        }()) {
      *out.mutable_event() = std::move(event);
    } else {
      out.set_value(std::string(value));
    }
  }
  rd_kafka_headers_t* headers = nullptr;
  if (rd_kafka_message_headers(raw, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    const char* name = nullptr;
    const void* value = nullptr;
    size_t size = 0;
    for (size_t i = 0;
         rd_kafka_header_get_all(headers, i, &name, &value, &size) ==
         RD_KAFKA_RESP_ERR_NO_ERROR;
         ++i) {
      tailor::v1::RecordHeader* h = out.add_headers();
      h->set_key(name);
      if (value != nullptr) {
        h->set_value(std::string(static_cast<const char*>(value), size));
      }
    }
  }
  return out;
}

std::optional<std::string> KeyOf(const tailor::v1::EventRecord& record) {
  if (record.has_key()) return record.key();
  if (record.has_key_bytes()) return record.key_bytes();
  return std::nullopt;
}

std::optional<std::string> ValueOf(const tailor::v1::EventRecord& record) {
  if (record.null_value()) return std::nullopt;
  if (record.has_value()) return record.value();
  return record.event().SerializeAsString();
}

absl::Status ReadEventFile(
    const std::string& path,
    absl::FunctionRef<absl::Status(tailor::v1::EventRecord&, int64_t line)>
        fn) {
  std::ifstream in(path, std::ios::binary);
  if (!in.is_open()) {
    return absl::NotFoundError(absl::StrCat("cannot open ", path));
  }
  google::protobuf::util::JsonParseOptions options;
  std::string line;
  tailor::v1::EventRecord record;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    if (line.empty()) continue;
    record.Clear();
    const auto status =
        google::protobuf::util::JsonStringToMessage(line, &record, options);
    if (!status.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": line ", number,
          " is not a tailor.v1.EventRecord in JSON: ", status.ToString()));
    }
    if (record.topic().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": line ", number, ": field topic is missing"));
    }
    if (absl::Status s = fn(record, number); !s.ok()) return s;
  }
  if (in.bad())
    return absl::UnavailableError(absl::StrCat("cannot read ", path));
  return absl::OkStatus();
}

}  // namespace tailor::ops
