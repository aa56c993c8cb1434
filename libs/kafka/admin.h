// File: admin.h
// Topic administration: create topics (idempotently) and read partition
// counts from cluster metadata.
#ifndef TAILOR_LIBS_KAFKA_ADMIN_H_
#define TAILOR_LIBS_KAFKA_ADMIN_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/kafka/config.h"
#include "libs/kafka/handles.h"

namespace tailor::kafka {

class MockCluster;

// Admin client. Thread-safe (librdkafka handle; no mutable tailor state).
// Owned by its creator.
class Admin {
 public:
  // `mock`, when non-null, is the embedded cluster that `props` point at: its
  // broker does not implement the CreateTopics request, so topics are created
  // through it directly; everything else still goes over the protocol. It
  // must outlive the Admin.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Admin>> Create(
      const Properties& props, MockCluster* mock = nullptr);

  struct NewTopic {
    std::string name;
    int partitions = 1;
    int replication = 1;
    Properties configs;  // e.g. {"cleanup.policy", "compact"}
  };

  // Creates the topics. A topic that already exists is OK when its partition
  // count matches, and InvalidArgument naming the topic when it differs.
  // (The embedded cluster ignores `configs`.)
  [[nodiscard]] absl::Status CreateTopics(const std::vector<NewTopic>& topics,
                                          absl::Duration timeout);

  // The partition count of `topic`; NotFound naming the topic if it does not
  // exist. Never auto-creates the topic.
  [[nodiscard]] absl::StatusOr<int> PartitionCount(const std::string& topic,
                                                   absl::Duration timeout);

  rd_kafka_t* raw() { return rk_.get(); }

 private:
  Admin() = default;
  // Partition counts of all topics in the cluster (one metadata request).
  absl::StatusOr<absl::flat_hash_map<std::string, int>> AllPartitionCounts(
      absl::Duration timeout);
  // Handles a topic that already exists (or was just created by someone else).
  absl::Status CheckExisting(const NewTopic& topic, absl::Duration timeout);

  MockCluster* mock_ = nullptr;
  KafkaPtr rk_;
};

}  // namespace tailor::kafka

#endif  // TAILOR_LIBS_KAFKA_ADMIN_H_
