// File: handles.h
// One deleter and one std::unique_ptr alias per librdkafka C handle type.
// Ownership moves out of these pointers only with .release() where
// librdkafka takes the handle over (rd_kafka_new takes the conf; a successful
// produce takes the headers).
#ifndef TAILOR_LIBS_KAFKA_HANDLES_H_
#define TAILOR_LIBS_KAFKA_HANDLES_H_

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <memory>

namespace tailor::kafka {

// rd_kafka_destroy() does not close a consumer's group membership by itself in
// a controlled way; Consumer calls rd_kafka_consumer_close() before the
// KafkaPtr is reset.
struct KafkaDeleter {
  void operator()(rd_kafka_t* p) const { rd_kafka_destroy(p); }
};
struct ConfDeleter {
  void operator()(rd_kafka_conf_t* p) const { rd_kafka_conf_destroy(p); }
};
struct TopicDeleter {
  void operator()(rd_kafka_topic_t* p) const { rd_kafka_topic_destroy(p); }
};
struct TopicPartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* p) const {
    rd_kafka_topic_partition_list_destroy(p);
  }
};
struct MessageDeleter {
  void operator()(rd_kafka_message_t* p) const { rd_kafka_message_destroy(p); }
};
struct HeadersDeleter {
  void operator()(rd_kafka_headers_t* p) const { rd_kafka_headers_destroy(p); }
};
struct QueueDeleter {
  void operator()(rd_kafka_queue_t* p) const { rd_kafka_queue_destroy(p); }
};
struct EventDeleter {
  void operator()(rd_kafka_event_t* p) const { rd_kafka_event_destroy(p); }
};
struct ErrorDeleter {
  void operator()(rd_kafka_error_t* p) const { rd_kafka_error_destroy(p); }
};
struct MetadataDeleter {
  void operator()(const rd_kafka_metadata_t* p) const {
    rd_kafka_metadata_destroy(p);
  }
};
struct AdminOptionsDeleter {
  void operator()(rd_kafka_AdminOptions_t* p) const {
    rd_kafka_AdminOptions_destroy(p);
  }
};
struct NewTopicDeleter {
  void operator()(rd_kafka_NewTopic_t* p) const {
    rd_kafka_NewTopic_destroy(p);
  }
};
struct MockClusterDeleter {
  void operator()(rd_kafka_mock_cluster_t* p) const {
    rd_kafka_mock_cluster_destroy(p);
  }
};

using KafkaPtr = std::unique_ptr<rd_kafka_t, KafkaDeleter>;
using ConfPtr = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;
using TopicPtr = std::unique_ptr<rd_kafka_topic_t, TopicDeleter>;
using TopicPartitionListPtr =
    std::unique_ptr<rd_kafka_topic_partition_list_t, TopicPartitionListDeleter>;
using MessagePtr = std::unique_ptr<rd_kafka_message_t, MessageDeleter>;
using HeadersPtr = std::unique_ptr<rd_kafka_headers_t, HeadersDeleter>;
using QueuePtr = std::unique_ptr<rd_kafka_queue_t, QueueDeleter>;
using EventPtr = std::unique_ptr<rd_kafka_event_t, EventDeleter>;
using ErrorPtr = std::unique_ptr<rd_kafka_error_t, ErrorDeleter>;
using MetadataPtr = std::unique_ptr<const rd_kafka_metadata_t, MetadataDeleter>;
using AdminOptionsPtr =
    std::unique_ptr<rd_kafka_AdminOptions_t, AdminOptionsDeleter>;
using NewTopicPtr = std::unique_ptr<rd_kafka_NewTopic_t, NewTopicDeleter>;
using MockClusterPtr =
    std::unique_ptr<rd_kafka_mock_cluster_t, MockClusterDeleter>;

}  // namespace tailor::kafka

#endif  // TAILOR_LIBS_KAFKA_HANDLES_H_
