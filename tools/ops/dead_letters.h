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

namespace tailor::ops {

struct DeadLetter {
  // Where the dead letter itself is.
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  int64_t timestamp_ms = -1;
  // The original's key and value (the first bytes only when truncated).
  std::string key;
  std::string value;
  // Every header, tailor's and the original's, in order.
  std::vector<std::pair<std::string, std::string>> headers;
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

DeadLetter ReadDeadLetter(const kafka::Record& record);
// Fills error, error_class, source_* and truncated from d->headers.
void FillDeadLetterHeaders(DeadLetter* d);

// The dead letter as a JSON object: position, time, key, error, class,
// source, truncation, every header, and with `original` the original value:
// decoded as a tailor.v1.Event in the protobuf JSON mapping when it decodes,
// else in base64.
std::string DeadLetterJson(const DeadLetter& letter, bool original);

}  // namespace tailor::ops

#endif  // TAILOR_TOOLS_OPS_DEAD_LETTERS_H_
