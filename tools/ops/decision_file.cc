#include "tools/ops/decision_file.h"

#include <fcntl.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl.h"
#include "google/protobuf/util/delimited_message_util.h"
#include "google/protobuf/util/json_util.h"

namespace tailor::ops {
namespace {

bool LooksLikeNdjson(std::ifstream& in) {
  char head[2] = {0, 0};
  in.read(head, 2);
  const bool json =
      in.gcount() >= 1 && head[0] == '{' &&
      (in.gcount() < 2 || head[1] == '"' || head[1] == '}' || head[1] == ' ');
  in.clear();
  in.seekg(0);
  return json;
}

absl::Status ReadNdjson(
    const std::string& path, std::ifstream& in,
    absl::FunctionRef<absl::Status(tailor::v1::Decision&)> fn) {
  google::protobuf::util::JsonParseOptions options;
  std::string line;
  tailor::v1::Decision decision;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    if (line.empty()) continue;
    decision.Clear();
    const auto status =
        google::protobuf::util::JsonStringToMessage(line, &decision, options);
    if (!status.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": line ", number,
          " is not a tailor.v1.Decision in JSON: ", status.ToString()));
    }
    if (absl::Status s = fn(decision); !s.ok()) return s;
  }
  if (in.bad()) {
    return absl::UnavailableError(absl::StrCat("cannot read ", path));
  }
  return absl::OkStatus();
}

absl::Status ReadDelimited(
    const std::string& path,
    absl::FunctionRef<absl::Status(tailor::v1::Decision&)> fn) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  google::protobuf::io::FileInputStream stream(fd);
  stream.SetCloseOnDelete(true);
  tailor::v1::Decision decision;
  for (int64_t number = 1;; ++number) {
    bool clean_eof = false;
    decision.Clear();
    if (!google::protobuf::util::ParseDelimitedFromZeroCopyStream(
            &decision, &stream, &clean_eof)) {
      if (clean_eof) return absl::OkStatus();
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": record ", number,
                       " is not a length-delimited tailor.v1.Decision (is "
                       "the file NDJSON or delimited?)"));
    }
    if (absl::Status s = fn(decision); !s.ok()) return s;
  }
}

}  // namespace

absl::StatusOr<DecisionFormat> ParseDecisionFormat(absl::string_view text,
                                                   absl::string_view flag) {
  if (text == "ndjson") return DecisionFormat::kNdjson;
  if (text == "delimited") return DecisionFormat::kDelimited;
  return absl::InvalidArgumentError(absl::StrCat(
      "--", flag, ": expected ndjson or delimited, got \"", text, "\""));
}

std::string ToJsonLine(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string out;
  // Printing a valid message to JSON cannot fail.
  (void)google::protobuf::util::MessageToJsonString(message, &out, options);
  return out;
}

absl::StatusOr<std::unique_ptr<DecisionWriter>> DecisionWriter::Open(
    const std::string& path, DecisionFormat format) {
  std::unique_ptr<DecisionWriter> w(new DecisionWriter(path, format));
  w->out_.open(path, std::ios::binary | std::ios::trunc);
  if (!w->out_.is_open()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--out: cannot create ", path));
  }
  return w;
}

absl::Status DecisionWriter::Write(absl::string_view bytes) {
  ++written_;
  if (format_ == DecisionFormat::kDelimited) {
    uint8_t length[10];
    const uint8_t* end =
        google::protobuf::io::CodedOutputStream::WriteVarint32ToArray(
            static_cast<uint32_t>(bytes.size()), length);
    out_.write(reinterpret_cast<const char*>(length), end - length);
    out_.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  } else {
    if (!decision_.ParseFromArray(bytes.data(),
                                  static_cast<int>(bytes.size()))) {
      return absl::InternalError("a decision made does not parse");
    }
    out_ << ToJsonLine(decision_) << '\n';
  }
  if (!out_.good()) {
    return absl::UnavailableError(absl::StrCat("cannot write ", path_));
  }
  return absl::OkStatus();
}

absl::Status DecisionWriter::Close() {
  out_.close();
  if (out_.fail()) {
    return absl::UnavailableError(absl::StrCat("cannot write ", path_));
  }
  return absl::OkStatus();
}

absl::Status ReadDecisionFile(
    const std::string& path,
    absl::FunctionRef<absl::Status(tailor::v1::Decision&)> fn) {
  std::ifstream in(path, std::ios::binary);
  if (!in.is_open()) {
    return absl::NotFoundError(absl::StrCat("cannot open ", path));
  }
  if (LooksLikeNdjson(in)) return ReadNdjson(path, in, fn);
  in.close();
  return ReadDelimited(path, fn);
}

}  // namespace tailor::ops
