// File: event_file.h
// Input records as NDJSON: one tailor.v1.EventRecord per line (protobuf's
// JSON mapping, proto field names), written by `events export`, read by
// `events import` and `reprocess --events_file`. A record goes in and comes
// out with the same topic, partition, key, value bytes, headers and
// timestamp (see proto/tailor/v1/event_record.proto).
#ifndef TAILOR_TOOLS_OPS_EVENT_FILE_H_
#define TAILOR_TOOLS_OPS_EVENT_FILE_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "libs/kafka/record.h"
#include "tailor/v1/event_record.pb.h"

namespace tailor::ops {

// The EventRecord of a consumed record: `event` when the value decodes and
// re-encodes to the same bytes, the raw `value` otherwise.
tailor::v1::EventRecord ToEventRecord(const kafka::Record& record);

// The key and value bytes a record stands for; nullopt for a null one.
std::optional<std::string> KeyOf(const tailor::v1::EventRecord& record);
std::optional<std::string> ValueOf(const tailor::v1::EventRecord& record);

// Calls `fn` on each record of an NDJSON file, with its line number; empty
// lines are skipped. Errors name the file and line.
absl::Status ReadEventFile(
    const std::string& path,
    absl::FunctionRef<absl::Status(tailor::v1::EventRecord&, int64_t line)> fn);

}  // namespace tailor::ops

#endif  // TAILOR_TOOLS_OPS_EVENT_FILE_H_
