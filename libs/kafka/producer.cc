#include "libs/kafka/producer.h"

#include <spdlog/spdlog.h>

#include <array>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "libs/base/status_macros.h"
#include "libs/kafka/consumer.h"
#include "libs/kafka/error.h"

namespace tailor::kafka {
Producer::Producer(ProducerOptions options) : options_(options) {}

absl::StatusOr<std::unique_ptr<Producer>> Producer::Create(
    const Properties& props, ProducerOptions options) {
  TAILOR_ASSIGN_OR_RETURN(ConfPtr conf, MakeConf(props));
  std::unique_ptr<Producer> producer(new Producer(options));
  rd_kafka_conf_set_dr_msg_cb(conf.get(), &Producer::DeliveryTrampoline);
  rd_kafka_conf_set_opaque(conf.get(), producer.get());
  TAILOR_ASSIGN_OR_RETURN(
      producer->rk_,
      NewClient(RD_KAFKA_PRODUCER, std::move(conf), "Kafka producer"));
  return producer;
}

Producer::~Producer() {
  if (rk_ == nullptr) return;
  const rd_kafka_resp_err_t err =
      rd_kafka_flush(rk_.get(), ToTimeoutMs(options_.close_flush_timeout));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    spdlog::warn("kafka producer {}: {} messages not delivered at close",
                 rd_kafka_name(rk_.get()), rd_kafka_outq_len(rk_.get()));
  }
  {
    absl::MutexLock lock(&topics_mu_);
    topics_.clear();
  }
  rk_.reset();
}

rd_kafka_topic_t* Producer::TopicHandle(absl::string_view topic) {
  {
    absl::ReaderMutexLock lock(&topics_mu_);
    auto it = topics_.find(topic);
    if (it != topics_.end()) return it->second.get();
  }
  absl::MutexLock lock(&topics_mu_);
  auto [it, inserted] = topics_.try_emplace(topic);
  if (inserted) {
    it->second.reset(rd_kafka_topic_new(rk_.get(), it->first.c_str(), nullptr));
  }
  return it->second.get();
}

absl::Status Producer::Produce(absl::string_view topic, int32_t partition,
                               absl::string_view key, absl::string_view value,
                               absl::Span<const Header> headers,
                               int64_t timestamp_ms, bool track_offset,
                               uint64_t delivery_tag) {
  rd_kafka_topic_t* rkt = TopicHandle(topic);
  if (rkt == nullptr) {
    return KafkaStatus(rd_kafka_last_error(),
                       absl::StrCat("topic handle for ", topic));
  }
  HeadersPtr hdrs;
  if (!headers.empty()) {
    hdrs.reset(rd_kafka_headers_new(headers.size()));
    for (const Header& h : headers) {
      rd_kafka_header_add(hdrs.get(), h.name.data(),
                          static_cast<ssize_t>(h.name.size()), h.value.data(),
                          static_cast<ssize_t>(h.value.size()));
    }
  }
  std::array<rd_kafka_vu_t, 8> vus{};
  size_t n = 0;
  vus[n].vtype = RD_KAFKA_VTYPE_RKT;
  vus[n++].u.rkt = rkt;
  vus[n].vtype = RD_KAFKA_VTYPE_PARTITION;
  vus[n++].u.i32 = partition;
  vus[n].vtype = RD_KAFKA_VTYPE_KEY;
  vus[n].u.mem.ptr = const_cast<char*>(key.data());
  vus[n++].u.mem.size = key.size();
  vus[n].vtype = RD_KAFKA_VTYPE_VALUE;
  vus[n].u.mem.ptr = const_cast<char*>(value.data());
  vus[n++].u.mem.size = value.size();
  vus[n].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
  vus[n++].u.i = RD_KAFKA_MSG_F_COPY;
  if (timestamp_ms != 0) {
    vus[n].vtype = RD_KAFKA_VTYPE_TIMESTAMP;
    vus[n++].u.i64 = timestamp_ms;
  }
  if (track_offset || delivery_tag != 0) {
    // The opaque carries the tag and, in its low bit, offset tracking.
    vus[n].vtype = RD_KAFKA_VTYPE_OPAQUE;
    vus[n++].u.ptr = reinterpret_cast<void*>(
        static_cast<uintptr_t>((delivery_tag << 1) | (track_offset ? 1 : 0)));
  }
  if (hdrs != nullptr) {
    vus[n].vtype = RD_KAFKA_VTYPE_HEADERS;
    vus[n++].u.headers = hdrs.get();
  }

  const absl::Time deadline = absl::Now() + options_.enqueue_timeout;
  while (true) {
    ErrorPtr error(rd_kafka_produceva(rk_.get(), vus.data(), n));
    if (error == nullptr) {
      hdrs.release();  // Owned by the message now.
      return absl::OkStatus();
    }
    if (rd_kafka_error_code(error.get()) == RD_KAFKA_RESP_ERR__QUEUE_FULL &&
        absl::Now() < deadline) {
      rd_kafka_poll(rk_.get(), 10);  // Let deliveries drain the queue.
      continue;
    }
    return KafkaStatus(error.get(),
                       absl::StrCat("produce to ", topic, "[", partition, "]"));
  }
}

absl::Status Producer::Flush(absl::Duration timeout) {
  const rd_kafka_resp_err_t err =
      rd_kafka_flush(rk_.get(), ToTimeoutMs(timeout));
  absl::Status first;
  {
    absl::MutexLock lock(&mu_);
    first = std::exchange(first_error_, absl::OkStatus());
  }
  if (!first.ok()) return first;
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return KafkaStatus(err,
                       absl::StrCat("flush: ", rd_kafka_outq_len(rk_.get()),
                                    " messages still outstanding"));
  }
  return absl::OkStatus();
}

void Producer::Poll(absl::Duration timeout) {
  rd_kafka_poll(rk_.get(), ToTimeoutMs(timeout));
}

int64_t Producer::LastDeliveredOffset(absl::string_view topic,
                                      int32_t partition) {
  absl::MutexLock lock(&offsets_mu_);
  auto it =
      delivered_offsets_.find(std::make_pair(std::string(topic), partition));
  return it == delivered_offsets_.end() ? -1 : it->second;
}

absl::Status Producer::InitTransactions(absl::Duration timeout) {
  ErrorPtr error(rd_kafka_init_transactions(rk_.get(), ToTimeoutMs(timeout)));
  return KafkaStatus(error.get(), "init transactions");
}

absl::Status Producer::BeginTransaction() {
  ErrorPtr error(rd_kafka_begin_transaction(rk_.get()));
  return KafkaStatus(error.get(), "begin transaction");
}

absl::Status Producer::SendOffsetsToTransaction(
    const std::vector<TopicPartition>& offsets, rd_kafka_t* consumer,
    absl::Duration timeout) {
  if (offsets.empty()) return absl::OkStatus();
  TopicPartitionListPtr list = ToPartitionList(offsets);
  std::unique_ptr<rd_kafka_consumer_group_metadata_t,
                  decltype(&rd_kafka_consumer_group_metadata_destroy)>
      metadata(rd_kafka_consumer_group_metadata(consumer),
               &rd_kafka_consumer_group_metadata_destroy);
  ErrorPtr error(rd_kafka_send_offsets_to_transaction(
      rk_.get(), list.get(), metadata.get(), ToTimeoutMs(timeout)));
  return KafkaStatus(error.get(), "send offsets to transaction");
}

absl::Status Producer::CommitTransaction(absl::Duration timeout) {
  ErrorPtr error(rd_kafka_commit_transaction(rk_.get(), ToTimeoutMs(timeout)));
  return KafkaStatus(error.get(), "commit transaction");
}

absl::Status Producer::AbortTransaction(absl::Duration timeout) {
  ErrorPtr error(rd_kafka_abort_transaction(rk_.get(), ToTimeoutMs(timeout)));
  return KafkaStatus(error.get(), "abort transaction");
}

void Producer::DeliveryTrampoline(rd_kafka_t*, const rd_kafka_message_t* msg,
                                  void* opaque) {
  static_cast<Producer*>(opaque)->OnDelivery(msg);
}

void Producer::OnDelivery(const rd_kafka_message_t* msg) {
  const auto opaque = reinterpret_cast<uintptr_t>(msg->_private);
  if (const uint64_t tag = opaque >> 1; tag != 0 && options_.on_delivery) {
    options_.on_delivery(tag, *msg);
  }
  if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    delivered_.fetch_add(1, std::memory_order_relaxed);
    if ((opaque & 1) != 0 && msg->rkt != nullptr) {
      absl::MutexLock lock(&offsets_mu_);
      int64_t& last = delivered_offsets_[std::make_pair(
          std::string(rd_kafka_topic_name(msg->rkt)), msg->partition)];
      last = std::max(last, msg->offset);
    }
    return;
  }
  failed_.fetch_add(1, std::memory_order_relaxed);
  absl::MutexLock lock(&mu_);
  if (first_error_.ok()) {
    first_error_ = KafkaStatus(
        msg->err,
        absl::StrCat("delivery to ",
                     msg->rkt != nullptr ? rd_kafka_topic_name(msg->rkt) : "?",
                     "[", msg->partition, "] failed"),
        // Not rd_kafka_message_errstr(): for a delivery report it may
        // return the payload, which must never reach the logs.
        rd_kafka_err2str(msg->err));
  }
}

}  // namespace tailor::kafka
