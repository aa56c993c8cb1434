// File: record.h
// A consumed Kafka record that owns its rd_kafka_message_t, and a plain
// topic/partition/offset triple.
#ifndef TAILOR_LIBS_KAFKA_RECORD_H_
#define TAILOR_LIBS_KAFKA_RECORD_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "libs/kafka/handles.h"

namespace tailor::kafka {

// A topic partition and, where it matters, an offset (for commits: the next
// offset to read; for assignments: where to start, or RD_KAFKA_OFFSET_INVALID
// for the committed offset / auto.offset.reset).
struct TopicPartition {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = RD_KAFKA_OFFSET_INVALID;

  friend bool operator==(const TopicPartition&,
                         const TopicPartition&) = default;
};

// Appends every header of `msg` (in order; a null value as "") to *out.
inline void AppendHeaders(
    const rd_kafka_message_t* msg,
    std::vector<std::pair<std::string, std::string>>* out) {
  rd_kafka_headers_t* hdrs = nullptr;
  // librdkafka parses the headers lazily, hence its non-const signature.
  if (rd_kafka_message_headers(const_cast<rd_kafka_message_t*>(msg), &hdrs) !=
      RD_KAFKA_RESP_ERR_NO_ERROR) {
    return;
  }
  const char* name = nullptr;
  const void* value = nullptr;
  size_t size = 0;
  for (size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &value, &size) ==
                     RD_KAFKA_RESP_ERR_NO_ERROR;
       ++i) {
    out->emplace_back(name,
                      value != nullptr
                          ? std::string(static_cast<const char*>(value), size)
                          : std::string());
  }
}

// One consumed message. Owns its rd_kafka_message_t (destroyed with the
// Record); key() and value() are views into it and live as long as the Record.
// Move-only. Any thread may read a Record, but every Record must be destroyed
// before the Consumer that produced it.
class Record {
 public:
  Record() = default;
  explicit Record(rd_kafka_message_t* msg) : msg_(msg) {}

  absl::string_view topic() const {
    return msg_->rkt != nullptr
               ? absl::string_view(rd_kafka_topic_name(msg_->rkt))
               : absl::string_view();
  }
  int32_t partition() const { return msg_->partition; }
  int64_t offset() const { return msg_->offset; }
  absl::string_view key() const {
    return msg_->key != nullptr
               ? absl::string_view(static_cast<const char*>(msg_->key),
                                   msg_->key_len)
               : absl::string_view();
  }
  absl::string_view value() const {
    return msg_->payload != nullptr
               ? absl::string_view(static_cast<const char*>(msg_->payload),
                                   msg_->len)
               : absl::string_view();
  }
  // Message timestamp in epoch ms (create or log-append time), -1 if none.
  int64_t timestamp_ms() const {
    return rd_kafka_message_timestamp(msg_.get(), nullptr);
  }
  rd_kafka_resp_err_t error() const { return msg_->err; }
  // The last header named `name`, or nullopt. The view lives as long as the
  // Record.
  std::optional<absl::string_view> header(const std::string& name) const {
    rd_kafka_headers_t* hdrs = nullptr;
    if (rd_kafka_message_headers(msg_.get(), &hdrs) !=
        RD_KAFKA_RESP_ERR_NO_ERROR)
      return std::nullopt;
    const void* value = nullptr;
    size_t size = 0;
    if (rd_kafka_header_get_last(hdrs, name.c_str(), &value, &size) !=
        RD_KAFKA_RESP_ERR_NO_ERROR)
      return std::nullopt;
    return value != nullptr
               ? absl::string_view(static_cast<const char*>(value), size)
               : absl::string_view();
  }
  // Every header, in order.
  std::vector<std::pair<std::string, std::string>> headers() const {
    std::vector<std::pair<std::string, std::string>> out;
    AppendHeaders(msg_.get(), &out);
    return out;
  }
  const rd_kafka_message_t* raw() const { return msg_.get(); }

 private:
  MessagePtr msg_;
};

}  // namespace tailor::kafka

#endif  // TAILOR_LIBS_KAFKA_RECORD_H_
