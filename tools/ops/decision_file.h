// File: decision_file.h
// Decision files as `reprocess` writes them and `diff` reads them:
//   ndjson     one Decision per line, protobuf's JSON mapping with the
//              proto field names (decision_id, reason_codes, ...)
//   delimited  length-delimited protobuf: a varint length, then the
//              Decision's bytes exactly as the personalizer produces them
//              (protobuf's writeDelimitedTo / parseDelimitedFrom)
#ifndef TAILOR_TOOLS_OPS_DECISION_FILE_H_
#define TAILOR_TOOLS_OPS_DECISION_FILE_H_

#include <cstdint>
#include <fstream>
#include <memory>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"
#include "tailor/v1/decision.pb.h"

namespace tailor::ops {

enum class DecisionFormat { kNdjson, kDelimited };

// "ndjson" or "delimited"; the error names `flag`.
absl::StatusOr<DecisionFormat> ParseDecisionFormat(absl::string_view text,
                                                   absl::string_view flag);

// A message in protobuf's JSON mapping with proto field names, on one line.
std::string ToJsonLine(const google::protobuf::Message& message);

class DecisionWriter {
 public:
  // Creates (or truncates) `path`.
  static absl::StatusOr<std::unique_ptr<DecisionWriter>> Open(
      const std::string& path, DecisionFormat format);

  // `bytes`: one serialized Decision.
  absl::Status Write(absl::string_view bytes);
  // Flushes and closes; errors name the file.
  absl::Status Close();

  int64_t written() const { return written_; }

 private:
  DecisionWriter(std::string path, DecisionFormat format)
      : path_(std::move(path)), format_(format) {}

  std::string path_;
  DecisionFormat format_;
  std::ofstream out_;
  tailor::v1::Decision decision_;  // scratch, for ndjson
  int64_t written_ = 0;
};

// Reads every decision of a file in either format (told apart by its first
// bytes: NDJSON starts with `{"` or `{}`) and calls `fn` on each in file
// order. Errors name the file and the line or record.
absl::Status ReadDecisionFile(
    const std::string& path,
    absl::FunctionRef<absl::Status(tailor::v1::Decision&)> fn);

}  // namespace tailor::ops

#endif  // TAILOR_TOOLS_OPS_DECISION_FILE_H_
