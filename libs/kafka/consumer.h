// File: consumer.h
// A Kafka group consumer over librdkafka's C API: batch polling into reused
// storage, explicit offset commits, and rebalance handling for both the eager
// and the cooperative protocol.
#ifndef TAILOR_LIBS_KAFKA_CONSUMER_H_
#define TAILOR_LIBS_KAFKA_CONSUMER_H_

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/kafka/config.h"
#include "libs/kafka/handles.h"
#include "libs/kafka/record.h"

namespace tailor::kafka {

// Told about partition assignment changes. Called on the polling thread from
// inside Consumer::PollBatch() (and from Close()) during a rebalance. Owned by
// the caller; must outlive the Consumer.
class RebalanceListener {
 public:
  virtual ~RebalanceListener() = default;
  // Before the partitions are assigned; the listener may set `offset` on each
  // to choose where consumption starts (leave RD_KAFKA_OFFSET_INVALID to use
  // the committed offset / auto.offset.reset).
  virtual void OnPartitionsAssigned(
      std::vector<TopicPartition>& partitions) = 0;
  // Before the partitions are taken away (revoked, or lost when `lost`); the
  // pipeline finishes and commits its batch here (Consumer::Commit may be
  // called from inside this callback).
  virtual void OnPartitionsRevoked(
      const std::vector<TopicPartition>& partitions, bool lost) = 0;
};

// A group consumer. Owned by one component; all methods must be called from
// one polling thread (raw() gives librdkafka's thread-safe handle for other
// uses). Records returned by PollBatch must be destroyed before the Consumer.
class Consumer {
 public:
  // Properties are passed to librdkafka (bootstrap.servers, group.id, ...).
  // enable.auto.commit and enable.auto.offset.store are forced false.
  // partition.assignment.strategy may be eager (range, roundrobin) or
  // cooperative-sticky. `listener` may be null.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Consumer>> Create(
      const Properties& props, RebalanceListener* listener);

  Consumer(const Consumer&) = delete;
  Consumer& operator=(const Consumer&) = delete;
  ~Consumer();  // Close(), then rd_kafka_destroy().

  [[nodiscard]] absl::Status Subscribe(const std::vector<std::string>& topics);

  // Polls up to `max` records, waiting at most `timeout` for the first one
  // (then takes what is already queued, without waiting). Reuses an internal
  // message array (no allocation per poll besides *out's growth). Clears and
  // fills *out. Partition EOF and transient errors are not returned as records
  // (transient ones are logged); a fatal consumer error returns a non-OK
  // status. Rebalance callbacks run inside this call.
  [[nodiscard]] absl::Status PollBatch(size_t max, absl::Duration timeout,
                                       std::vector<Record>* out) {
    return PollBatch(max, timeout, out, nullptr);
  }
  // The same, and with enable.partition.eof=true also reports in *ends (if
  // not null; cleared first) each partition whose end the consumer reached
  // in this poll: every record before that end is in *out or was returned
  // earlier.
  [[nodiscard]] absl::Status PollBatch(size_t max, absl::Duration timeout,
                                       std::vector<Record>* out,
                                       std::vector<TopicPartition>* ends);

  // Stops and restarts fetching of assigned partitions (offset fields are
  // ignored). Records already fetched are still returned.
  [[nodiscard]] absl::Status Pause(const std::vector<TopicPartition>& parts);
  [[nodiscard]] absl::Status Resume(const std::vector<TopicPartition>& parts);

  // Commits explicit next-offsets (offset = next message to read).
  // Synchronous when async == false; asynchronous commit failures are logged.
  [[nodiscard]] absl::Status Commit(const std::vector<TopicPartition>& offsets,
                                    bool async);

  // Committed offsets of `partitions` in the group (offset field filled in;
  // RD_KAFKA_OFFSET_INVALID when none).
  [[nodiscard]] absl::StatusOr<std::vector<TopicPartition>> Committed(
      const std::vector<TopicPartition>& partitions, absl::Duration timeout);

  // Moves the fetch positions of assigned partitions (offset = next message
  // to read).
  [[nodiscard]] absl::Status Seek(const std::vector<TopicPartition>& positions,
                                  absl::Duration timeout);

  // Assigns partitions directly, without a group (for reading a topic
  // partition from a given offset, e.g. restoring from a changelog).
  [[nodiscard]] absl::Status Assign(
      const std::vector<TopicPartition>& partitions);

  // Low and high watermark offsets of topic[partition], from the broker.
  [[nodiscard]] absl::StatusOr<std::pair<int64_t, int64_t>> QueryWatermarks(
      const std::string& topic, int32_t partition, absl::Duration timeout);

  // The end offsets of `partitions` from their leaders now (the offset the
  // next produced record will get; the last stable offset for a
  // read_committed consumer), in one round trip per leader. Safe to call
  // from any thread.
  [[nodiscard]] absl::StatusOr<std::vector<TopicPartition>> ListEnds(
      const std::vector<TopicPartition>& partitions, absl::Duration timeout);

  // The next offset to fetch of an assigned partition (after the last
  // consumed message, or skipped transaction markers), or
  // RD_KAFKA_OFFSET_INVALID when not known yet.
  [[nodiscard]] absl::StatusOr<int64_t> Position(const std::string& topic,
                                                 int32_t partition);

  // The current assignment (offset fields are RD_KAFKA_OFFSET_INVALID).
  [[nodiscard]] absl::StatusOr<std::vector<TopicPartition>> Assignment();

  // Leaves the group (revoking partitions through the listener). Idempotent;
  // also done by the destructor.
  absl::Status Close();

  rd_kafka_t* raw() { return rk_.get(); }

 private:
  explicit Consumer(RebalanceListener* listener);
  static void RebalanceTrampoline(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                                  rd_kafka_topic_partition_list_t* partitions,
                                  void* opaque);
  void OnRebalance(rd_kafka_resp_err_t err,
                   rd_kafka_topic_partition_list_t* partitions);
  // Handles one polled message: moves it into *out, or drops and logs it.
  absl::Status Accept(rd_kafka_message_t* msg, std::vector<Record>* out,
                      std::vector<TopicPartition>* ends);

  RebalanceListener* listener_;  // Not owned; may be null.
  KafkaPtr rk_;
  QueuePtr queue_;  // The consumer queue; destroyed before rk_.
  std::vector<rd_kafka_message_t*> batch_;  // Reused by PollBatch.
  bool closed_ = false;
};

// Converts between librdkafka lists and TopicPartition vectors.
std::vector<TopicPartition> ToTopicPartitions(
    const rd_kafka_topic_partition_list_t* list);
TopicPartitionListPtr ToPartitionList(
    const std::vector<TopicPartition>& partitions);

}  // namespace tailor::kafka

#endif  // TAILOR_LIBS_KAFKA_CONSUMER_H_
