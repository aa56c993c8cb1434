// File: keyed_record.h
// A consumed record copied out of the consumer (so it outlives it), as the
// subcommands that read records back keep them.
#ifndef TAILOR_TOOLS_OPS_KEYED_RECORD_H_
#define TAILOR_TOOLS_OPS_KEYED_RECORD_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "libs/kafka/record.h"

namespace tailor::ops {

struct KeyedRecord {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  int64_t timestamp_ms = -1;
  std::string key;
  std::string value;
  // Every header, in order.
  std::vector<std::pair<std::string, std::string>> headers;
};

inline KeyedRecord CopyRecord(const kafka::Record& r) {
  return KeyedRecord{std::string(r.topic()),
                     r.partition(),
                     r.offset(),
                     r.timestamp_ms(),
                     std::string(r.key()),
                     std::string(r.value()),
                     r.headers()};
}

}  // namespace tailor::ops

#endif  // TAILOR_TOOLS_OPS_KEYED_RECORD_H_
