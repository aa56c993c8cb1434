// File: group.h
// The personalizer's consumer group as seen from outside, without joining
// it: whether it has active members, and its committed offsets.
#ifndef TAILOR_TOOLS_OPS_GROUP_H_
#define TAILOR_TOOLS_OPS_GROUP_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "libs/kafka/config.h"
#include "libs/kafka/consumer.h"

namespace tailor::ops {

// FailedPrecondition naming the group and its members when `group` has
// any (a running personalizer); OK when it is empty or unknown;
// Unimplemented when the broker cannot describe groups (librdkafka's mock
// cluster cannot).
absl::Status CheckGroupEmpty(kafka::Consumer& client, const std::string& group);

// The committed offsets of `partitions` in `group` (offset -1 when the
// group committed none), asked by a client that never joins the group.
absl::StatusOr<std::vector<kafka::TopicPartition>> GroupCommitted(
    const kafka::Properties& props, const std::string& group,
    const std::vector<kafka::TopicPartition>& partitions);

}  // namespace tailor::ops

#endif  // TAILOR_TOOLS_OPS_GROUP_H_
