#include "libs/kafka/consumer.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "libs/base/status_macros.h"
#include "libs/kafka/error.h"

namespace tailor::kafka {
namespace {

std::string Describe(const std::vector<TopicPartition>& parts) {
  return absl::StrJoin(parts, ",",
                       [](std::string* out, const TopicPartition& tp) {
                         absl::StrAppend(out, tp.topic, "[", tp.partition, "]");
                       });
}

void OffsetCommitCallback(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                          rd_kafka_topic_partition_list_t* offsets, void*) {
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR ||
      err == RD_KAFKA_RESP_ERR__NO_OFFSET) {
    return;
  }
  spdlog::warn("kafka consumer {}: offset commit failed: {}", rd_kafka_name(rk),
               rd_kafka_err2str(err));
}

}  // namespace

std::vector<TopicPartition> ToTopicPartitions(
    const rd_kafka_topic_partition_list_t* list) {
  std::vector<TopicPartition> out;
  if (list == nullptr) return out;
  out.reserve(list->cnt);
  for (int i = 0; i < list->cnt; ++i) {
    const rd_kafka_topic_partition_t& e = list->elems[i];
    out.push_back(TopicPartition{e.topic, e.partition, e.offset});
  }
  return out;
}

TopicPartitionListPtr ToPartitionList(
    const std::vector<TopicPartition>& partitions) {
  TopicPartitionListPtr list(rd_kafka_topic_partition_list_new(
      static_cast<int>(std::max<size_t>(partitions.size(), 1))));
  for (const TopicPartition& tp : partitions) {
    rd_kafka_topic_partition_list_add(list.get(), tp.topic.c_str(),
                                      tp.partition)
        ->offset = tp.offset;
  }
  return list;
}

Consumer::Consumer(RebalanceListener* listener) : listener_(listener) {}

absl::StatusOr<std::unique_ptr<Consumer>> Consumer::Create(
    const Properties& props, RebalanceListener* listener) {
  TAILOR_ASSIGN_OR_RETURN(ConfPtr conf, MakeConf(props));
  TAILOR_RETURN_IF_ERROR(SetConf(conf.get(), "enable.auto.commit", "false"));
  TAILOR_RETURN_IF_ERROR(
      SetConf(conf.get(), "enable.auto.offset.store", "false"));
  std::unique_ptr<Consumer> consumer(new Consumer(listener));
  rd_kafka_conf_set_rebalance_cb(conf.get(), &Consumer::RebalanceTrampoline);
  rd_kafka_conf_set_offset_commit_cb(conf.get(), &OffsetCommitCallback);
  rd_kafka_conf_set_opaque(conf.get(), consumer.get());

  TAILOR_ASSIGN_OR_RETURN(
      consumer->rk_,
      NewClient(RD_KAFKA_CONSUMER, std::move(conf), "Kafka consumer"));
  rd_kafka_t* rk = consumer->rk_.get();
  TAILOR_RETURN_IF_ERROR(KafkaStatus(rd_kafka_poll_set_consumer(rk),
                                     "rd_kafka_poll_set_consumer"));
  consumer->queue_.reset(rd_kafka_queue_get_consumer(rk));
  if (consumer->queue_ == nullptr) {
    return absl::InternalError("Kafka consumer has no consumer queue");
  }
  return consumer;
}

Consumer::~Consumer() {
  IgnoreError(Close());  // Close() logs its own failure.
  queue_.reset();
  rk_.reset();
}

absl::Status Consumer::Subscribe(const std::vector<std::string>& topics) {
  TopicPartitionListPtr list(
      rd_kafka_topic_partition_list_new(static_cast<int>(topics.size())));
  for (const std::string& t : topics) {
    rd_kafka_topic_partition_list_add(list.get(), t.c_str(),
                                      RD_KAFKA_PARTITION_UA);
  }
  return KafkaStatus(rd_kafka_subscribe(rk_.get(), list.get()),
                     absl::StrCat("subscribe to ", absl::StrJoin(topics, ",")));
}

absl::Status Consumer::Accept(rd_kafka_message_t* msg, std::vector<Record>* out,
                              std::vector<TopicPartition>* ends) {
  Record record(msg);  // Owns msg from here on.
  if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    out->push_back(std::move(record));
    return absl::OkStatus();
  }
  if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
    if (ends != nullptr && msg->rkt != nullptr) {
      ends->push_back(TopicPartition{rd_kafka_topic_name(msg->rkt),
                                     msg->partition, msg->offset});
    }
    return absl::OkStatus();
  }
  if (msg->err == RD_KAFKA_RESP_ERR__FATAL) {
    std::array<char, 512> errstr{};
    const rd_kafka_resp_err_t orig =
        rd_kafka_fatal_error(rk_.get(), errstr.data(), errstr.size());
    return KafkaStatus(
        RD_KAFKA_RESP_ERR__FATAL, "fatal consumer error",
        absl::StrCat(rd_kafka_err2name(orig), ": ", errstr.data()));
  }
  spdlog::warn("kafka consumer {}: {}{}: {}", rd_kafka_name(rk_.get()),
               rd_kafka_err2name(msg->err),
               msg->rkt != nullptr
                   ? absl::StrCat(" on ", rd_kafka_topic_name(msg->rkt), "[",
                                  msg->partition, "]")
                   : std::string(),
               rd_kafka_message_errstr(msg));
  return absl::OkStatus();
}

absl::Status Consumer::PollBatch(size_t max, absl::Duration timeout,
                                 std::vector<Record>* out,
                                 std::vector<TopicPartition>* ends) {
  out->clear();
  if (ends != nullptr) ends->clear();
  if (max == 0) return absl::OkStatus();
  if (closed_) return absl::FailedPreconditionError("consumer is closed");
  if (batch_.size() < max) batch_.resize(max);
  out->reserve(max);

  // rd_kafka_consume_batch_queue() with a timeout waits until the batch is
  // full; wait for the first message only, then take what is queued.
  rd_kafka_message_t* first =
      rd_kafka_consume_queue(queue_.get(), ToTimeoutMs(timeout));
  if (first == nullptr) {
    std::array<char, 512> errstr{};
    const rd_kafka_resp_err_t fatal =
        rd_kafka_fatal_error(rk_.get(), errstr.data(), errstr.size());
    if (fatal != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return KafkaStatus(
          RD_KAFKA_RESP_ERR__FATAL, "fatal consumer error",
          absl::StrCat(rd_kafka_err2name(fatal), ": ", errstr.data()));
    }
    return absl::OkStatus();
  }
  absl::Status status = Accept(first, out, ends);
  if (max > 1) {
    const ssize_t n =
        rd_kafka_consume_batch_queue(queue_.get(), 0, batch_.data(), max - 1);
    if (n < 0) {
      return KafkaStatus(rd_kafka_last_error(), "rd_kafka_consume_batch_queue");
    }
    for (ssize_t i = 0; i < n; ++i) {
      absl::Status s = Accept(batch_[i], out, ends);  // Takes ownership.
      if (status.ok()) status = std::move(s);
    }
  }
  return status;
}

absl::Status Consumer::Seek(const std::vector<TopicPartition>& positions,
                            absl::Duration timeout) {
  if (positions.empty()) return absl::OkStatus();
  TopicPartitionListPtr list = ToPartitionList(positions);
  ErrorPtr error(
      rd_kafka_seek_partitions(rk_.get(), list.get(), ToTimeoutMs(timeout)));
  TAILOR_RETURN_IF_ERROR(
      KafkaStatus(error.get(), absl::StrCat("seek ", Describe(positions))));
  for (int i = 0; i < list->cnt; ++i) {
    const rd_kafka_topic_partition_t& e = list->elems[i];
    if (e.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return KafkaStatus(e.err,
                         absl::StrCat("seek ", e.topic, "[", e.partition, "]"));
    }
  }
  return absl::OkStatus();
}

absl::Status Consumer::Pause(const std::vector<TopicPartition>& parts) {
  if (parts.empty()) return absl::OkStatus();
  TopicPartitionListPtr list = ToPartitionList(parts);
  return KafkaStatus(rd_kafka_pause_partitions(rk_.get(), list.get()),
                     absl::StrCat("pause ", Describe(parts)));
}

absl::Status Consumer::Resume(const std::vector<TopicPartition>& parts) {
  if (parts.empty()) return absl::OkStatus();
  TopicPartitionListPtr list = ToPartitionList(parts);
  return KafkaStatus(rd_kafka_resume_partitions(rk_.get(), list.get()),
                     absl::StrCat("resume ", Describe(parts)));
}

absl::Status Consumer::Assign(const std::vector<TopicPartition>& partitions) {
  TopicPartitionListPtr list = ToPartitionList(partitions);
  return KafkaStatus(rd_kafka_assign(rk_.get(), list.get()),
                     absl::StrCat("assign ", Describe(partitions)));
}

absl::StatusOr<std::pair<int64_t, int64_t>> Consumer::QueryWatermarks(
    const std::string& topic, int32_t partition, absl::Duration timeout) {
  int64_t low = 0;
  int64_t high = 0;
  TAILOR_RETURN_IF_ERROR(
      KafkaStatus(rd_kafka_query_watermark_offsets(
                      rk_.get(), topic.c_str(), partition, &low, &high,
                      static_cast<int>(absl::ToInt64Milliseconds(timeout))),
                  absl::StrCat("watermarks of ", topic, "[", partition, "]")));
  return std::make_pair(low, high);
}

absl::StatusOr<std::vector<TopicPartition>> Consumer::ListEnds(
    const std::vector<TopicPartition>& partitions, absl::Duration timeout) {
  if (partitions.empty()) return std::vector<TopicPartition>();
  TopicPartitionListPtr list = ToPartitionList(partitions);
  for (int i = 0; i < list->cnt; ++i)
    list->elems[i].offset = RD_KAFKA_OFFSET_END;
  TAILOR_RETURN_IF_ERROR(KafkaStatus(
      rd_kafka_offsets_for_times(rk_.get(), list.get(), ToTimeoutMs(timeout)),
      absl::StrCat("end offsets of ", Describe(partitions))));
  for (int i = 0; i < list->cnt; ++i) {
    const rd_kafka_topic_partition_t& e = list->elems[i];
    if (e.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return KafkaStatus(e.err, absl::StrCat("end offset of ", e.topic, "[",
                                             e.partition, "]"));
    }
  }
  return ToTopicPartitions(list.get());
}

absl::StatusOr<int64_t> Consumer::Position(const std::string& topic,
                                           int32_t partition) {
  TopicPartitionListPtr list = ToPartitionList({{topic, partition}});
  TAILOR_RETURN_IF_ERROR(KafkaStatus(rd_kafka_position(rk_.get(), list.get()),
                                     absl::StrCat("position of ", topic)));
  return list->elems[0].offset;
}

absl::Status Consumer::Commit(const std::vector<TopicPartition>& offsets,
                              bool async) {
  if (offsets.empty()) return absl::OkStatus();
  TopicPartitionListPtr list = ToPartitionList(offsets);
  TAILOR_RETURN_IF_ERROR(
      KafkaStatus(rd_kafka_commit(rk_.get(), list.get(), async ? 1 : 0),
                  absl::StrCat("commit ", Describe(offsets))));
  if (!async) {
    for (int i = 0; i < list->cnt; ++i) {
      const rd_kafka_topic_partition_t& e = list->elems[i];
      if (e.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return KafkaStatus(
            e.err, absl::StrCat("commit ", e.topic, "[", e.partition, "]"));
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<TopicPartition>> Consumer::Committed(
    const std::vector<TopicPartition>& partitions, absl::Duration timeout) {
  TopicPartitionListPtr list = ToPartitionList(partitions);
  TAILOR_RETURN_IF_ERROR(KafkaStatus(
      rd_kafka_committed(rk_.get(), list.get(), ToTimeoutMs(timeout)),
      "committed offsets"));
  return ToTopicPartitions(list.get());
}

absl::StatusOr<std::vector<TopicPartition>> Consumer::Assignment() {
  rd_kafka_topic_partition_list_t* raw_list = nullptr;
  TAILOR_RETURN_IF_ERROR(
      KafkaStatus(rd_kafka_assignment(rk_.get(), &raw_list), "assignment"));
  TopicPartitionListPtr list(raw_list);
  return ToTopicPartitions(list.get());
}

absl::Status Consumer::Close() {
  if (closed_ || rk_ == nullptr) return absl::OkStatus();
  closed_ = true;
  absl::Status s =
      KafkaStatus(rd_kafka_consumer_close(rk_.get()), "consumer close");
  if (!s.ok()) spdlog::warn("kafka consumer: {}", s.ToString());
  return s;
}

void Consumer::RebalanceTrampoline(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                                   rd_kafka_topic_partition_list_t* partitions,
                                   void* opaque) {
  static_cast<Consumer*>(opaque)->OnRebalance(err, partitions);
}

void Consumer::OnRebalance(rd_kafka_resp_err_t err,
                           rd_kafka_topic_partition_list_t* partitions) {
  rd_kafka_t* rk = rk_.get();
  const char* protocol = rd_kafka_rebalance_protocol(rk);
  const bool cooperative =
      protocol != nullptr && std::strcmp(protocol, "COOPERATIVE") == 0;
  std::vector<TopicPartition> parts = ToTopicPartitions(partitions);

  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    spdlog::info("kafka consumer {}: assigned {} ({})", rd_kafka_name(rk),
                 Describe(parts), cooperative ? "cooperative" : "eager");
    if (listener_ != nullptr && !parts.empty()) {
      listener_->OnPartitionsAssigned(parts);
      // Carry the listener's start offsets back into librdkafka's list.
      for (const TopicPartition& tp : parts) {
        rd_kafka_topic_partition_t* e = rd_kafka_topic_partition_list_find(
            partitions, tp.topic.c_str(), tp.partition);
        if (e != nullptr) e->offset = tp.offset;
      }
    }
    if (cooperative) {
      ErrorPtr error(rd_kafka_incremental_assign(rk, partitions));
      if (error != nullptr) {
        spdlog::error(
            "kafka consumer {}: {}", rd_kafka_name(rk),
            KafkaStatus(error.get(), "incremental assign").ToString());
      }
    } else {
      absl::Status s = KafkaStatus(rd_kafka_assign(rk, partitions), "assign");
      if (!s.ok()) {
        spdlog::error("kafka consumer {}: {}", rd_kafka_name(rk), s.ToString());
      }
    }
    return;
  }

  if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
    const bool lost = rd_kafka_assignment_lost(rk) != 0;
    spdlog::info("kafka consumer {}: {} {}", rd_kafka_name(rk),
                 lost ? "lost" : "revoked", Describe(parts));
    if (listener_ != nullptr && !parts.empty()) {
      listener_->OnPartitionsRevoked(parts, lost);
    }
    if (cooperative) {
      ErrorPtr error(rd_kafka_incremental_unassign(rk, partitions));
      if (error != nullptr) {
        spdlog::error(
            "kafka consumer {}: {}", rd_kafka_name(rk),
            KafkaStatus(error.get(), "incremental unassign").ToString());
      }
    } else {
      IgnoreError(KafkaStatus(rd_kafka_assign(rk, nullptr), "unassign"));
    }
    return;
  }

  spdlog::error("kafka consumer {}: rebalance error: {}", rd_kafka_name(rk),
                rd_kafka_err2str(err));
  // The assignment is no longer valid: tell the listener it is lost.
  if (listener_ != nullptr) {
    rd_kafka_topic_partition_list_t* raw_list = nullptr;
    if (rd_kafka_assignment(rk, &raw_list) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      TopicPartitionListPtr list(raw_list);
      std::vector<TopicPartition> current = ToTopicPartitions(list.get());
      if (!current.empty()) listener_->OnPartitionsRevoked(current, true);
    }
  }
  IgnoreError(KafkaStatus(rd_kafka_assign(rk, nullptr), "unassign"));
}

}  // namespace tailor::kafka
