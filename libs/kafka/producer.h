// File: producer.h
// An asynchronous Kafka producer with delivery-report accounting: counts of
// delivered and failed messages and the first delivery error since the last
// Flush().
#ifndef TAILOR_LIBS_KAFKA_PRODUCER_H_
#define TAILOR_LIBS_KAFKA_PRODUCER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "libs/kafka/config.h"
#include "libs/kafka/handles.h"
#include "libs/kafka/record.h"

namespace tailor::kafka {

// Tailor-side producer settings (librdkafka settings go in Properties).
struct ProducerOptions {
  // How long Produce() keeps polling and retrying while the local queue is
  // full before it returns ResourceExhausted.
  absl::Duration enqueue_timeout = absl::Seconds(5);
  // How long the destructor waits for outstanding deliveries.
  absl::Duration close_flush_timeout = absl::Seconds(2);
  // Called with the delivery report of every message produced with a
  // non-zero delivery_tag (delivered or failed: msg.err), on the thread that
  // serves callbacks (Poll(), Flush(), a Produce() on a full queue).
  std::function<void(uint64_t tag, const rd_kafka_message_t& msg)> on_delivery;
};

// A producer. Thread-safe: any thread may call any method. Owned by one
// component; delivery callbacks run on whichever thread calls Poll(),
// Produce() (when the queue is full) or Flush().
class Producer {
 public:
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Producer>> Create(
      const Properties& props, ProducerOptions options = {});

  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;
  // Flushes for at most options.close_flush_timeout, then destroys the handle.
  ~Producer();

  struct Header {
    absl::string_view name;
    absl::string_view value;
  };

  // Enqueues one message. Copies key, value and headers
  // (RD_KAFKA_MSG_F_COPY): the caller may free its buffers as soon as this
  // returns. partition = RD_KAFKA_PARTITION_UA uses the configured
  // partitioner. timestamp_ms = 0 means "now". On a full queue, polls and
  // retries until enqueue_timeout (then ResourceExhausted).
  // With track_offset, a successful delivery updates
  // LastDeliveredOffset(topic, partition). A non-zero delivery_tag (< 2^63)
  // is handed to options.on_delivery with the message's delivery report.
  [[nodiscard]] absl::Status Produce(absl::string_view topic, int32_t partition,
                                     absl::string_view key,
                                     absl::string_view value,
                                     absl::Span<const Header> headers = {},
                                     int64_t timestamp_ms = 0,
                                     bool track_offset = false,
                                     uint64_t delivery_tag = 0);

  // Offset of the last tracked message delivered to topic[partition], or -1.
  int64_t LastDeliveredOffset(absl::string_view topic, int32_t partition);

  // Transactions (the producer needs transactional.id). Errors carry
  // KafkaErrorInfo: requires_abort means AbortTransaction() and retry the
  // work; fatal means the producer must be recreated.
  [[nodiscard]] absl::Status InitTransactions(absl::Duration timeout);
  [[nodiscard]] absl::Status BeginTransaction();
  // Adds the consumer's next offsets to the transaction, with its group
  // metadata (so a fenced group member cannot commit).
  [[nodiscard]] absl::Status SendOffsetsToTransaction(
      const std::vector<TopicPartition>& offsets, rd_kafka_t* consumer,
      absl::Duration timeout);
  [[nodiscard]] absl::Status CommitTransaction(absl::Duration timeout);
  [[nodiscard]] absl::Status AbortTransaction(absl::Duration timeout);

  // Waits for all outstanding delivery reports; returns the first delivery
  // error since the previous Flush (and resets it), or DeadlineExceeded if
  // messages are still outstanding after `timeout`.
  [[nodiscard]] absl::Status Flush(absl::Duration timeout);

  int64_t delivered() const {
    return delivered_.load(std::memory_order_relaxed);
  }
  int64_t failed() const { return failed_.load(std::memory_order_relaxed); }
  // Messages enqueued or in flight (rd_kafka_outq_len).
  int outstanding() { return rd_kafka_outq_len(rk_.get()); }

  // Serves delivery callbacks, waiting up to `timeout` for the first one.
  void Poll(absl::Duration timeout = absl::ZeroDuration());

  rd_kafka_t* raw() { return rk_.get(); }

 private:
  explicit Producer(ProducerOptions options);
  static void DeliveryTrampoline(rd_kafka_t* rk, const rd_kafka_message_t* msg,
                                 void* opaque);
  void OnDelivery(const rd_kafka_message_t* msg);
  rd_kafka_topic_t* TopicHandle(absl::string_view topic);

  const ProducerOptions options_;
  KafkaPtr rk_;
  std::atomic<int64_t> delivered_{0};
  std::atomic<int64_t> failed_{0};
  absl::Mutex mu_;
  absl::Status first_error_ ABSL_GUARDED_BY(mu_);
  absl::Mutex topics_mu_;
  // Topic handles by name; destroyed before rk_.
  absl::flat_hash_map<std::string, TopicPtr> topics_
      ABSL_GUARDED_BY(topics_mu_);
  absl::Mutex offsets_mu_;
  // Last delivered offset of tracked messages per (topic, partition).
  absl::flat_hash_map<std::pair<std::string, int32_t>, int64_t>
      delivered_offsets_ ABSL_GUARDED_BY(offsets_mu_);
};

}  // namespace tailor::kafka

#endif  // TAILOR_LIBS_KAFKA_PRODUCER_H_
