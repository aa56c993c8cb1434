#include "libs/kafka/mock_cluster.h"

#include <array>

#include "absl/strings/str_cat.h"
#include "libs/base/status_macros.h"
#include "libs/kafka/config.h"
#include "libs/kafka/error.h"

namespace tailor::kafka {

absl::StatusOr<std::unique_ptr<MockCluster>> MockCluster::Create(int brokers) {
  if (brokers < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("mock cluster needs at least 1 broker, got ", brokers));
  }
  ConfPtr conf(rd_kafka_conf_new());
  RouteLogsToSpdlog(conf.get());
  // This handle only does book keeping and has no bootstrap servers; keep
  // its notice about that out of the logs.
  absl::Status quiet = SetConf(conf.get(), "log_level", "4");
  if (!quiet.ok()) return quiet;
  std::unique_ptr<MockCluster> mock(new MockCluster());
  TAILOR_ASSIGN_OR_RETURN(
      mock->rk_,
      NewClient(RD_KAFKA_PRODUCER, std::move(conf), "mock cluster handle"));
  rd_kafka_t* rk = mock->rk_.get();
  mock->cluster_.reset(rd_kafka_mock_cluster_new(rk, brokers));
  if (mock->cluster_ == nullptr) {
    return absl::InternalError("rd_kafka_mock_cluster_new failed");
  }
  mock->bootstrap_servers_ =
      rd_kafka_mock_cluster_bootstraps(mock->cluster_.get());
  return mock;
}

MockCluster::~MockCluster() {
  cluster_.reset();
  rk_.reset();
}

absl::Status MockCluster::CreateTopic(const std::string& name, int partitions,
                                      int replication) {
  return KafkaStatus(rd_kafka_mock_topic_create(cluster_.get(), name.c_str(),
                                                partitions, replication),
                     absl::StrCat("create topic '", name, "'"));
}

}  // namespace tailor::kafka
