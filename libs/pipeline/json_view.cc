#include "libs/pipeline/json_view.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/util/json_util.h"
#include "libs/base/log.h"
#include "tailor/v1/decision.pb.h"

namespace tailor::pipeline {

std::string JsonQuote(absl::string_view text) {
  std::string out = "\"";
  AppendJsonEscaped(text, &out);
  out += '"';
  return out;
}

std::string ProtoJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string out;
  if (!google::protobuf::util::MessageToJsonString(message, &out, options)
           .ok()) {
    // Only invalid UTF-8 in a string field gets here: show the bytes.
    return JsonObject()
        .String("unprintable_" + message.GetTypeName(),
                absl::Base64Escape(message.SerializeAsString()))
        .Done();
  }
  return out;
}

bool IsPrintable(absl::string_view bytes) {
  for (const char c : bytes) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

void JsonObject::Name(absl::string_view name) {
  if (out_.size() > 1) out_ += ',';
  out_ += JsonQuote(name);
  out_ += ':';
}

JsonObject& JsonObject::Raw(absl::string_view name, absl::string_view json) {
  Name(name);
  out_.append(json.data(), json.size());
  return *this;
}

JsonObject& JsonObject::String(absl::string_view name, absl::string_view text) {
  return Raw(name, JsonQuote(text));
}

JsonObject& JsonObject::Int(absl::string_view name, int64_t value) {
  return Raw(name, absl::StrCat(value));
}

JsonObject& JsonObject::Bool(absl::string_view name, bool value) {
  return Raw(name, value ? "true" : "false");
}

JsonObject& JsonObject::Bytes(absl::string_view name, absl::string_view bytes) {
  if (IsPrintable(bytes)) return String(name, bytes);
  return String(absl::StrCat(name, "_base64"), absl::Base64Escape(bytes));
}

std::string JsonArray(const std::vector<std::string>& values) {
  return absl::StrCat("[", absl::StrJoin(values, ","), "]");
}

void AddProfileView(const tailor::v1::CustomerProfile& profile,
                    JsonObject* out) {
  tailor::v1::CustomerProfile rest = profile;
  rest.clear_pending_timers();
  out->Raw("profile", ProtoJson(rest));
  std::vector<std::string> timers;
  for (const tailor::v1::Timer& t : profile.pending_timers()) {
    JsonObject timer;
    tailor::v1::Decision deferred;
    if (!t.deferred().empty() && deferred.ParseFromString(t.deferred())) {
      tailor::v1::Timer plain = t;
      plain.clear_deferred();
      timer.Raw("timer", ProtoJson(plain))
          .Raw("deferred_decision", ProtoJson(deferred));
    } else {
      timer.Raw("timer", ProtoJson(t));
    }
    timers.push_back(timer.Done());
  }
  out->Raw("pending_timers", JsonArray(timers));
}

}  // namespace tailor::pipeline
