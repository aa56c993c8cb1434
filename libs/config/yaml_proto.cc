#include "libs/config/yaml_proto.h"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "google/protobuf/descriptor.h"
#include "libs/base/status_macros.h"

namespace tailor::config {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::EnumDescriptor;
using google::protobuf::EnumValueDescriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Reflection;

std::string Where(const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  if (mark.is_null()) return "";
  return absl::StrCat(" (line ", mark.line + 1, ")");
}

std::string KindOf(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Null:
      return "null";
    case YAML::NodeType::Scalar:
      return absl::StrCat("\"", absl::CHexEscape(node.Scalar()), "\"");
    default:
      return "nothing";
  }
}

absl::Status FieldError(absl::string_view path, absl::string_view reason,
                        const YAML::Node& node) {
  return absl::InvalidArgumentError(
      absl::StrCat(path, ": ", reason, Where(node)));
}

absl::Status Expected(absl::string_view path, absl::string_view what,
                      const YAML::Node& node) {
  return FieldError(
      path, absl::StrCat("expected ", what, ", got ", KindOf(node)), node);
}

// True for well-formed UTF-8 (no overlong forms, surrogates or code points
// past U+10FFFF). Protobuf refuses to parse a string field that is not, so a
// config value that is not would make what tailor writes from it (decisions,
// profiles) undecodable.
bool IsValidUtf8(absl::string_view s) {
  static constexpr uint32_t kMinCodePoint[] = {0, 0x80, 0x800, 0x10000};
  size_t i = 0;
  while (i < s.size()) {
    const auto lead = static_cast<unsigned char>(s[i]);
    if (lead < 0x80) {
      ++i;
      continue;
    }
    size_t extra = 0;
    uint32_t cp = 0;
    if ((lead & 0xe0) == 0xc0) {
      extra = 1;
      cp = lead & 0x1f;
    } else if ((lead & 0xf0) == 0xe0) {
      extra = 2;
      cp = lead & 0x0f;
    } else if ((lead & 0xf8) == 0xf0) {
      extra = 3;
      cp = lead & 0x07;
    } else {
      return false;
    }
    if (s.size() - i <= extra) return false;
    for (size_t k = 1; k <= extra; ++k) {
      const auto next = static_cast<unsigned char>(s[i + k]);
      if ((next & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (next & 0x3f);
    }
    if (cp < kMinCodePoint[extra] || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff)) {
      return false;
    }
    i += extra + 1;
  }
  return true;
}

std::string Join(absl::string_view prefix, absl::string_view name) {
  return prefix.empty() ? std::string(name) : absl::StrCat(prefix, ".", name);
}

// "DeviceClass" -> "DEVICE_CLASS_": the prefix proto style gives values.
std::string EnumValuePrefix(const EnumDescriptor* type) {
  std::string out;
  const std::string& name = type->name();
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (absl::ascii_isupper(c) && i > 0 &&
        (absl::ascii_islower(name[i - 1]) ||
         (i + 1 < name.size() && absl::ascii_islower(name[i + 1])))) {
      out.push_back('_');
    }
    out.push_back(absl::ascii_toupper(c));
  }
  out.push_back('_');
  return out;
}

// Integers: decimal with optional sign; also 0x hex as YAML allows.
template <typename T>
bool ParseInteger(const std::string& text, T* out) {
  std::string t = absl::StrReplaceAll(text, {{"_", ""}});
  if (t.empty()) return false;
  if (t.size() > 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X')) {
    uint64_t v = 0;
    if (!absl::SimpleHexAtoi(t.substr(2), &v)) return false;
    if (v > static_cast<uint64_t>(std::numeric_limits<T>::max())) return false;
    *out = static_cast<T>(v);
    return true;
  }
  return absl::SimpleAtoi(t, out);
}

bool ParseDouble(const std::string& text, double* out) {
  std::string t = absl::AsciiStrToLower(text);
  if (t == ".inf" || t == "+.inf") {
    *out = std::numeric_limits<double>::infinity();
    return true;
  }
  if (t == "-.inf") {
    *out = -std::numeric_limits<double>::infinity();
    return true;
  }
  if (t == ".nan") {
    *out = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  return absl::SimpleAtod(t, out);
}

bool ParseBool(const std::string& text, bool* out) {
  const std::string t = absl::AsciiStrToLower(text);
  if (t == "true" || t == "yes" || t == "on") {
    *out = true;
    return true;
  }
  if (t == "false" || t == "no" || t == "off") {
    *out = false;
    return true;
  }
  return false;
}

class Walker {
 public:
  absl::Status WalkMessage(const YAML::Node& node,
                           google::protobuf::Message* msg,
                           const std::string& path);

 private:
  absl::Status Field(const YAML::Node& node, google::protobuf::Message* msg,
                     const FieldDescriptor* field, const std::string& path);
  absl::Status Single(const YAML::Node& node, google::protobuf::Message* msg,
                      const FieldDescriptor* field, const std::string& path);
  absl::Status MapField(const YAML::Node& node, google::protobuf::Message* msg,
                        const FieldDescriptor* field, const std::string& path);
  absl::StatusOr<const EnumValueDescriptor*> EnumValue(
      const YAML::Node& node, const EnumDescriptor* type,
      const std::string& path);
};

const FieldDescriptor* FindField(const Descriptor* d, const std::string& key) {
  if (const FieldDescriptor* f = d->FindFieldByName(key)) return f;
  for (int i = 0; i < d->field_count(); ++i) {
    if (d->field(i)->json_name() == key) return d->field(i);
  }
  return nullptr;
}

absl::Status Walker::WalkMessage(const YAML::Node& node,
                                 google::protobuf::Message* msg,
                                 const std::string& path) {
  if (node.IsNull()) return absl::OkStatus();
  if (!node.IsMap()) {
    if (path.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("expected a mapping at the top level, got ",
                       KindOf(node), Where(node)));
    }
    return Expected(path, "a mapping", node);
  }
  const Descriptor* descriptor = msg->GetDescriptor();
  std::set<const FieldDescriptor*> seen;
  for (const auto& entry : node) {
    const YAML::Node& key_node = entry.first;
    if (!key_node.IsScalar()) {
      return FieldError(
          path.empty() ? "<top level>" : path,
          absl::StrCat("keys must be names, got ", KindOf(key_node)), key_node);
    }
    const std::string& key = key_node.Scalar();
    const FieldDescriptor* field = FindField(descriptor, key);
    if (field == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown field \"", Join(path, key), "\"", Where(key_node)));
    }
    const std::string field_path = Join(path, field->name());
    if (!seen.insert(field).second) {
      return FieldError(field_path, "set twice", key_node);
    }
    if (const google::protobuf::OneofDescriptor* oneof =
            field->real_containing_oneof()) {
      const FieldDescriptor* other =
          msg->GetReflection()->GetOneofFieldDescriptor(*msg, oneof);
      if (other != nullptr && other != field && !entry.second.IsNull()) {
        return FieldError(field_path,
                          absl::StrCat("only one of \"", oneof->name(),
                                       "\" may be set, and \"", other->name(),
                                       "\" already is"),
                          key_node);
      }
    }
    TAILOR_RETURN_IF_ERROR(Field(entry.second, msg, field, field_path));
  }
  return absl::OkStatus();
}

absl::Status Walker::Field(const YAML::Node& node,
                           google::protobuf::Message* msg,
                           const FieldDescriptor* field,
                           const std::string& path) {
  if (node.IsNull()) return absl::OkStatus();
  if (field->is_map()) return MapField(node, msg, field, path);
  if (!field->is_repeated()) return Single(node, msg, field, path);
  if (!node.IsSequence()) return Expected(path, "a list", node);
  for (size_t i = 0; i < node.size(); ++i) {
    TAILOR_RETURN_IF_ERROR(
        Single(node[i], msg, field, absl::StrCat(path, "[", i, "]")));
  }
  return absl::OkStatus();
}

absl::Status Walker::MapField(const YAML::Node& node,
                              google::protobuf::Message* msg,
                              const FieldDescriptor* field,
                              const std::string& path) {
  if (!node.IsMap()) return Expected(path, "a mapping", node);
  const Reflection* reflection = msg->GetReflection();
  const FieldDescriptor* key_field = field->message_type()->map_key();
  const FieldDescriptor* value_field = field->message_type()->map_value();
  for (const auto& entry : node) {
    if (!entry.first.IsScalar()) {
      return Expected(path, "scalar keys", entry.first);
    }
    const std::string entry_path = absl::StrCat(
        path, "[\"", absl::CHexEscape(entry.first.Scalar()), "\"]");
    google::protobuf::Message* map_entry = reflection->AddMessage(msg, field);
    TAILOR_RETURN_IF_ERROR(
        Single(entry.first, map_entry, key_field, entry_path));
    if (!entry.second.IsNull()) {
      TAILOR_RETURN_IF_ERROR(
          Single(entry.second, map_entry, value_field, entry_path));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<const EnumValueDescriptor*> Walker::EnumValue(
    const YAML::Node& node, const EnumDescriptor* type,
    const std::string& path) {
  std::vector<std::string> names;
  for (int i = 0; i < type->value_count(); ++i) {
    names.push_back(type->value(i)->name());
  }
  const std::string choices = absl::StrJoin(names, ", ");
  if (!node.IsScalar()) {
    return Expected(path, absl::StrCat("one of ", choices), node);
  }
  const std::string& text = node.Scalar();
  if (const EnumValueDescriptor* v = type->FindValueByName(text)) return v;
  const std::string prefix = EnumValuePrefix(type);
  std::string upper = absl::AsciiStrToUpper(text);
  absl::StrReplaceAll({{"-", "_"}}, &upper);
  if (const EnumValueDescriptor* v = type->FindValueByName(upper)) return v;
  if (const EnumValueDescriptor* v =
          type->FindValueByName(absl::StrCat(prefix, upper))) {
    return v;
  }
  int32_t number = 0;
  if (ParseInteger(text, &number)) {
    if (const EnumValueDescriptor* v = type->FindValueByNumber(number)) {
      return v;
    }
  }
  return FieldError(path,
                    absl::StrCat("unknown ", type->name(), " value ",
                                 KindOf(node), ", expected one of ", choices),
                    node);
}

absl::Status Walker::Single(const YAML::Node& node,
                            google::protobuf::Message* msg,
                            const FieldDescriptor* field,
                            const std::string& path) {
  const Reflection* r = msg->GetReflection();
  const bool repeated = field->is_repeated();
  if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
    google::protobuf::Message* child =
        repeated ? r->AddMessage(msg, field) : r->MutableMessage(msg, field);
    if (!node.IsMap() && !node.IsNull()) {
      return Expected(path, "a mapping", node);
    }
    return WalkMessage(node, child, path);
  }
  if (field->cpp_type() == FieldDescriptor::CPPTYPE_ENUM) {
    TAILOR_ASSIGN_OR_RETURN(const EnumValueDescriptor* v,
                            EnumValue(node, field->enum_type(), path));
    if (repeated) {
      r->AddEnum(msg, field, v);
    } else {
      r->SetEnum(msg, field, v);
    }
    return absl::OkStatus();
  }
  if (!node.IsScalar()) {
    return Expected(path, "a single value", node);
  }
  const std::string& text = node.Scalar();
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32: {
      int32_t v = 0;
      if (!ParseInteger(text, &v)) {
        int64_t wide = 0;
        if (ParseInteger(text, &wide)) {
          return FieldError(path,
                            absl::StrCat("value ", text,
                                         " is out of range for a 32-bit "
                                         "integer"),
                            node);
        }
        return Expected(path, "an integer", node);
      }
      repeated ? r->AddInt32(msg, field, v) : r->SetInt32(msg, field, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_INT64: {
      int64_t v = 0;
      if (!ParseInteger(text, &v)) return Expected(path, "an integer", node);
      repeated ? r->AddInt64(msg, field, v) : r->SetInt64(msg, field, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_UINT32: {
      uint32_t v = 0;
      if (!ParseInteger(text, &v)) {
        return Expected(path, "a non-negative 32-bit integer", node);
      }
      repeated ? r->AddUInt32(msg, field, v) : r->SetUInt32(msg, field, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_UINT64: {
      uint64_t v = 0;
      if (!ParseInteger(text, &v)) {
        return Expected(path, "a non-negative integer", node);
      }
      repeated ? r->AddUInt64(msg, field, v) : r->SetUInt64(msg, field, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_DOUBLE: {
      double v = 0;
      if (!ParseDouble(text, &v)) return Expected(path, "a number", node);
      repeated ? r->AddDouble(msg, field, v) : r->SetDouble(msg, field, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_FLOAT: {
      double v = 0;
      if (!ParseDouble(text, &v)) return Expected(path, "a number", node);
      if (std::isfinite(v) &&
          std::fabs(v) > std::numeric_limits<float>::max()) {
        return FieldError(
            path, absl::StrCat("value ", text, " is out of range for a float"),
            node);
      }
      const float f = static_cast<float>(v);
      repeated ? r->AddFloat(msg, field, f) : r->SetFloat(msg, field, f);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_BOOL: {
      bool v = false;
      if (!ParseBool(text, &v)) {
        return Expected(path, "true or false", node);
      }
      repeated ? r->AddBool(msg, field, v) : r->SetBool(msg, field, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string v = text;
      if (field->type() == FieldDescriptor::TYPE_BYTES &&
          !absl::Base64Unescape(text, &v)) {
        return Expected(path, "base64 bytes", node);
      }
      if (field->type() == FieldDescriptor::TYPE_STRING && !IsValidUtf8(v)) {
        return Expected(path, "UTF-8 text", node);
      }
      repeated ? r->AddString(msg, field, std::move(v))
               : r->SetString(msg, field, std::move(v));
      return absl::OkStatus();
    }
    default:
      return FieldError(path, "unsupported field type", node);
  }
}

}  // namespace

absl::Status ParseYamlIntoProto(absl::string_view yaml_text,
                                google::protobuf::Message* out) {
  out->Clear();
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml_text));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(
        "line ", e.mark.line + 1, ", column ", e.mark.column + 1, ": ", e.msg));
  }
  try {
    return Walker().WalkMessage(root, out, "");
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("malformed YAML: ", e.what()));
  }
}

absl::Status LoadYamlFileIntoProto(const std::string& path,
                                   google::protobuf::Message* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    const std::string reason =
        absl::StrCat(path, ": cannot open: ", std::strerror(err));
    if (err == ENOENT) return absl::NotFoundError(reason);
    if (err == EACCES) return absl::PermissionDeniedError(reason);
    return absl::InternalError(reason);
  }
  std::stringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    return absl::InternalError(absl::StrCat(path, ": read failed"));
  }
  absl::Status s = ParseYamlIntoProto(text.str(), out);
  if (!s.ok()) {
    return absl::Status(s.code(), absl::StrCat(path, ": ", s.message()));
  }
  return absl::OkStatus();
}

}  // namespace tailor::config
