// File: yaml_proto.h
// Maps YAML (and JSON, a subset of YAML) configuration files onto protobuf
// messages by walking the document and the message descriptor together, so
// every error names the field path and the reason, e.g.
//   rules.yaml: abandoned_cart.first_reminder_minutes: expected an integer,
//   got "soon" (line 3)
// Keys are proto field names (json_name such as "firstReminderMinutes" is
// accepted too). Supported: all scalar types, enums by full name
// (CHANNEL_PUSH), by short name without the enum's prefix (push, case
// insensitive) or by number, nested messages, repeated fields (YAML
// sequences), map fields (YAML mappings) and bytes (base64). A null value
// (`key:` or `key: ~`) leaves the field unset.
#ifndef TAILOR_LIBS_CONFIG_YAML_PROTO_H_
#define TAILOR_LIBS_CONFIG_YAML_PROTO_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"

namespace tailor::config {

// Clears *out and fills it from `yaml_text`. An empty document leaves it
// empty. On error returns kInvalidArgument naming the field path and the
// reason; *out is then partly filled and must not be used.
// Thread-safe (no shared state).
[[nodiscard]] absl::Status ParseYamlIntoProto(absl::string_view yaml_text,
                                              google::protobuf::Message* out);

// Reads the file at `path` and parses it as ParseYamlIntoProto does. Error
// messages start with "<path>: ". A missing or unreadable file is kNotFound
// or kPermissionDenied / kInternal.
[[nodiscard]] absl::Status LoadYamlFileIntoProto(
    const std::string& path, google::protobuf::Message* out);

}  // namespace tailor::config

#endif  // TAILOR_LIBS_CONFIG_YAML_PROTO_H_
