// File: dead_letters.h
// A record of the dead-letter topic read back: where it came from, why, and
// the original it carries (see the README's "Bad input"). Shared by
// `tailor-ops dlq` and `tailor-ops export`.
#ifndef TAILOR_TOOLS_OPS_DEAD_LETTERS_H_
#define TAILOR_TOOLS_OPS_DEAD_LETTERS_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "libs/kafka/record.h"
#include "tools/ops/keyed_record.h"

namespace tailor::ops {

// The dead letter's own position, key, value (the original's; the first
// bytes only when truncated) and every header, tailor's and the
// original's, in order; then what tailor's headers say.
struct DeadLetter : KeyedRecord {
  std::string error;        // tailor-error
  std::string error_class;  // pipeline::DeadLetterErrorClass(error)
  // The original's position; source_topic is empty when the header is
  // missing (not written by tailor).
  std::string source_topic;
  int32_t source_partition = -1;
  int64_t source_offset = -1;
  bool truncated = false;

  // The headers the original carried (tailor's dead-letter headers removed).
  std::vector<std::pair<std::string, std::string>> OriginalHeaders() const;
};

// A record of the dead-letter topic, with error, error_class, source_* and
// truncated read from its headers.
DeadLetter ReadDeadLetter(KeyedRecord record);
inline DeadLetter ReadDeadLetter(const kafka::Record& record) {
  return ReadDeadLetter(CopyRecord(record));
}

// The dead letter as a JSON object: position, time, key, error, class,
// source, truncation, every header, and with `original` the original value:
// decoded as a tailor.v1.Event in the protobuf JSON mapping when it decodes,
// else in base64.
std::string DeadLetterJson(const DeadLetter& letter, bool original);

}  // namespace tailor::ops

#endif  // TAILOR_TOOLS_OPS_DEAD_LETTERS_H_
