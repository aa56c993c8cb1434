// File: json_view.h
// JSON views of what tailor holds, for the admin HTTP API
// (/v1/customers/{id}) and tailor-ops: protobuf messages in the protobuf
// JSON mapping with the field names of the .proto files, and small objects
// and arrays put together from such parts. Compact (one line).
#ifndef TAILOR_LIBS_PIPELINE_JSON_VIEW_H_
#define TAILOR_LIBS_PIPELINE_JSON_VIEW_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"
#include "tailor/v1/profile.pb.h"

namespace tailor::pipeline {

// `text` as a JSON string, quoted and escaped.
std::string JsonQuote(absl::string_view text);

// `message` in the protobuf JSON mapping, with the .proto field names
// (customer_id, not customerId); enums by name, int64 as strings.
std::string ProtoJson(const google::protobuf::Message& message);

// Whether `bytes` can be shown as text: printable ASCII only (ids, header
// values). Other bytes are shown in base64.
bool IsPrintable(absl::string_view bytes);

// Builds one JSON object, member by member, in the order added.
class JsonObject {
 public:
  // `json` is already JSON (a number, an object, an array, ...).
  JsonObject& Raw(absl::string_view name, absl::string_view json);
  JsonObject& String(absl::string_view name, absl::string_view text);
  JsonObject& Int(absl::string_view name, int64_t value);
  JsonObject& Bool(absl::string_view name, bool value);
  // `name` as a string when IsPrintable(bytes), else `name`_base64.
  JsonObject& Bytes(absl::string_view name, absl::string_view bytes);
  std::string Done() const { return out_ + "}"; }

 private:
  void Name(absl::string_view name);
  std::string out_ = "{";
};

// "[a,b,...]" of JSON values.
std::string JsonArray(const std::vector<std::string>& values);

// Adds "profile" (the profile without its pending timers) and
// "pending_timers" (each {timer, deferred_decision?}, a deferred decision
// decoded) to *out.
void AddProfileView(const tailor::v1::CustomerProfile& profile,
                    JsonObject* out);

}  // namespace tailor::pipeline

#endif  // TAILOR_LIBS_PIPELINE_JSON_VIEW_H_
