// File: mock_cluster.h
// The embedded Kafka cluster (librdkafka's mock cluster): a real
// Kafka-protocol server on 127.0.0.1 for tests, the devbroker tool and
// benchmarks. It keeps only about the last 5 MB of each partition.
#ifndef TAILOR_LIBS_KAFKA_MOCK_CLUSTER_H_
#define TAILOR_LIBS_KAFKA_MOCK_CLUSTER_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "libs/kafka/handles.h"

namespace tailor::kafka {

// Owns the mock cluster and the rd_kafka_t it needs for book keeping.
// Thread-safe (librdkafka's mock API locks internally). Clients connected to
// it should be destroyed before it.
class MockCluster {
 public:
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<MockCluster>> Create(
      int brokers);

  MockCluster(const MockCluster&) = delete;
  MockCluster& operator=(const MockCluster&) = delete;
  ~MockCluster();

  // "127.0.0.1:PORT[,...]".
  const std::string& bootstrap_servers() const { return bootstrap_servers_; }

  // Creates a topic; AlreadyExists if it exists (any partition count).
  [[nodiscard]] absl::Status CreateTopic(const std::string& name,
                                         int partitions, int replication = 1);

  // For fault injection in tests (rd_kafka_mock_broker_set_down,
  // rd_kafka_mock_push_request_errors, rd_kafka_mock_broker_set_rtt, ...).
  rd_kafka_mock_cluster_t* raw() { return cluster_.get(); }

 private:
  MockCluster() = default;

  KafkaPtr rk_;
  MockClusterPtr cluster_;  // Destroyed before rk_.
  std::string bootstrap_servers_;
};

}  // namespace tailor::kafka

#endif  // TAILOR_LIBS_KAFKA_MOCK_CLUSTER_H_
