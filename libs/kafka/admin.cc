#include "libs/kafka/admin.h"

#include <array>
#include <cstring>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "libs/base/status_macros.h"
#include "libs/kafka/error.h"
#include "libs/kafka/mock_cluster.h"

namespace tailor::kafka {

absl::StatusOr<std::unique_ptr<Admin>> Admin::Create(const Properties& props,
                                                     MockCluster* mock) {
  TAILOR_ASSIGN_OR_RETURN(ConfPtr conf, MakeConf(props));
  std::unique_ptr<Admin> admin(new Admin());
  TAILOR_ASSIGN_OR_RETURN(
      admin->rk_,
      NewClient(RD_KAFKA_PRODUCER, std::move(conf), "Kafka admin client"));
  admin->mock_ = mock;
  return admin;
}

absl::StatusOr<absl::flat_hash_map<std::string, int>> Admin::AllPartitionCounts(
    absl::Duration timeout) {
  // Metadata for all topics: asking for one topic by handle may make the
  // broker auto-create it.
  const rd_kafka_metadata_t* raw = nullptr;
  TAILOR_RETURN_IF_ERROR(KafkaStatus(
      rd_kafka_metadata(rk_.get(), 1, nullptr, &raw, ToTimeoutMs(timeout)),
      "cluster metadata"));
  MetadataPtr md(raw);
  absl::flat_hash_map<std::string, int> counts;
  for (int i = 0; i < md->topic_cnt; ++i) {
    const rd_kafka_metadata_topic_t& t = md->topics[i];
    if (t.err == RD_KAFKA_RESP_ERR_NO_ERROR) counts[t.topic] = t.partition_cnt;
  }
  return counts;
}

absl::StatusOr<int> Admin::PartitionCount(const std::string& topic,
                                          absl::Duration timeout) {
  TAILOR_ASSIGN_OR_RETURN(auto counts, AllPartitionCounts(timeout));
  auto it = counts.find(topic);
  if (it == counts.end()) {
    return absl::NotFoundError(
        absl::StrCat("topic '", topic, "' does not exist"));
  }
  return it->second;
}

absl::Status Admin::CheckExisting(const NewTopic& topic,
                                  absl::Duration timeout) {
  TAILOR_ASSIGN_OR_RETURN(int have, PartitionCount(topic.name, timeout));
  if (have != topic.partitions) {
    return absl::InvalidArgumentError(
        absl::StrCat("topic '", topic.name, "' already exists with ", have,
                     " partitions, wanted ", topic.partitions));
  }
  return absl::OkStatus();
}

absl::Status Admin::CreateTopics(const std::vector<NewTopic>& topics,
                                 absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  TAILOR_ASSIGN_OR_RETURN(auto existing, AllPartitionCounts(timeout));
  std::vector<const NewTopic*> missing;
  for (const NewTopic& t : topics) {
    if (t.partitions < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("topic '", t.name,
                       "': partition count must be >= 1, got ", t.partitions));
    }
    auto it = existing.find(t.name);
    if (it == existing.end()) {
      missing.push_back(&t);
    } else if (it->second != t.partitions) {
      return absl::InvalidArgumentError(
          absl::StrCat("topic '", t.name, "' already exists with ", it->second,
                       " partitions, wanted ", t.partitions));
    }
  }
  if (missing.empty()) return absl::OkStatus();

  if (mock_ != nullptr) {
    for (const NewTopic* t : missing) {
      absl::Status s =
          mock_->CreateTopic(t->name, t->partitions, t->replication);
      if (absl::IsAlreadyExists(s))
        s = CheckExisting(*t, deadline - absl::Now());
      TAILOR_RETURN_IF_ERROR(s);
    }
    return absl::OkStatus();
  }

  std::array<char, 512> errstr{};
  std::vector<NewTopicPtr> owned;
  std::vector<rd_kafka_NewTopic_t*> raw;
  for (const NewTopic* t : missing) {
    NewTopicPtr nt(rd_kafka_NewTopic_new(t->name.c_str(), t->partitions,
                                         t->replication, errstr.data(),
                                         errstr.size()));
    if (nt == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("topic '", t->name, "': ", errstr.data()));
    }
    for (const auto& [key, value] : t->configs) {
      TAILOR_RETURN_IF_ERROR(KafkaStatus(
          rd_kafka_NewTopic_set_config(nt.get(), key.c_str(), value.c_str()),
          absl::StrCat("topic '", t->name, "' config '", key, "'")));
    }
    raw.push_back(nt.get());
    owned.push_back(std::move(nt));
  }
  AdminOptionsPtr options(
      rd_kafka_AdminOptions_new(rk_.get(), RD_KAFKA_ADMIN_OP_CREATETOPICS));
  const int timeout_ms = ToTimeoutMs(deadline - absl::Now());
  TAILOR_RETURN_IF_ERROR(
      KafkaStatus(rd_kafka_AdminOptions_set_request_timeout(
                      options.get(), timeout_ms, errstr.data(), errstr.size()),
                  "admin request timeout"));
  TAILOR_RETURN_IF_ERROR(
      KafkaStatus(rd_kafka_AdminOptions_set_operation_timeout(
                      options.get(), timeout_ms, errstr.data(), errstr.size()),
                  "admin operation timeout"));
  QueuePtr queue(rd_kafka_queue_new(rk_.get()));
  rd_kafka_CreateTopics(rk_.get(), raw.data(), raw.size(), options.get(),
                        queue.get());
  // Give the broker's own timeout a moment to report first.
  EventPtr event(rd_kafka_queue_poll(queue.get(), timeout_ms + 1000));
  if (event == nullptr) {
    return absl::DeadlineExceededError("create topics: no answer in time");
  }
  if (rd_kafka_event_error(event.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    const char* detail = rd_kafka_event_error_string(event.get());
    return KafkaStatus(rd_kafka_event_error(event.get()), "create topics",
                       detail != nullptr ? detail : "");
  }
  const rd_kafka_CreateTopics_result_t* result =
      rd_kafka_event_CreateTopics_result(event.get());
  if (result == nullptr) {
    return absl::InternalError("create topics: unexpected event type");
  }
  size_t count = 0;
  const rd_kafka_topic_result_t** results =
      rd_kafka_CreateTopics_result_topics(result, &count);
  for (size_t i = 0; i < count; ++i) {
    const char* name = rd_kafka_topic_result_name(results[i]);
    const rd_kafka_resp_err_t err = rd_kafka_topic_result_error(results[i]);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) continue;
    const NewTopic* wanted = nullptr;
    for (const NewTopic* t : missing) {
      if (t->name == name) wanted = t;
    }
    if (err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS && wanted != nullptr) {
      TAILOR_RETURN_IF_ERROR(CheckExisting(*wanted, deadline - absl::Now()));
      continue;
    }
    const char* detail = rd_kafka_topic_result_error_string(results[i]);
    return KafkaStatus(err, absl::StrCat("create topic '", name, "'"),
                       detail != nullptr ? detail : "");
  }
  return absl::OkStatus();
}

}  // namespace tailor::kafka
