// File: error.h
// The one place where librdkafka error codes become absl::Status. The status
// keeps the original code, and whether librdkafka considers it retriable or
// fatal, in a payload that KafkaErrorOf() reads back.
#ifndef TAILOR_LIBS_KAFKA_ERROR_H_
#define TAILOR_LIBS_KAFKA_ERROR_H_

#include <librdkafka/rdkafka.h>

#include <optional>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace tailor::kafka {

// Payload type URL under which the Kafka error details are stored.
inline constexpr absl::string_view kKafkaErrorPayloadUrl =
    "type.tailor.dev/tailor.kafka.Error";

// What a Kafka status says about its librdkafka error.
struct KafkaErrorInfo {
  rd_kafka_resp_err_t code = RD_KAFKA_RESP_ERR_NO_ERROR;
  bool retriable = false;       // Trying again later may succeed.
  bool fatal = false;           // The client instance is unusable.
  bool requires_abort = false;  // The current transaction must be aborted.
};

// OkStatus for RD_KAFKA_RESP_ERR_NO_ERROR; otherwise a status whose code
// follows the error's meaning (timeouts -> DeadlineExceeded, unknown topic ->
// NotFound, broker down -> Unavailable, ...), whose message is
// "<what>: <librdkafka text> (<ERR_NAME>)[, retriable][, fatal]" and which
// carries a KafkaErrorInfo payload.
absl::Status KafkaStatus(rd_kafka_resp_err_t err, absl::string_view what);

// Same, with librdkafka's own detail string (e.g. from a delivery report or
// rd_kafka_fatal_error()) instead of the generic text of the code.
absl::Status KafkaStatus(rd_kafka_resp_err_t err, absl::string_view what,
                         absl::string_view detail);

// Same for an rd_kafka_error_t (keeps its retriable/fatal flags). Does not
// take ownership; a null error is OK.
absl::Status KafkaStatus(const rd_kafka_error_t* error, absl::string_view what);

// The Kafka details of a status made by KafkaStatus(), or nullopt.
std::optional<KafkaErrorInfo> KafkaErrorOf(const absl::Status& status);

// Whether librdkafka treats this broker/local error code as transient.
bool IsRetriable(rd_kafka_resp_err_t err);

// Whether the error says this one record can never be produced as it is
// (too large, invalid), whatever is tried again: the rest of the stream is
// not at fault.
bool IsRecordRejected(rd_kafka_resp_err_t err);

}  // namespace tailor::kafka

#endif  // TAILOR_LIBS_KAFKA_ERROR_H_
