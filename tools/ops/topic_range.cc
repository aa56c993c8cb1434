#include "tools/ops/topic_range.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "libs/base/status_macros.h"
#include "libs/kafka/error.h"
#include "libs/kafka/handles.h"

namespace tailor::ops {
namespace {

constexpr absl::Duration kQueryTimeout = absl::Seconds(10);
constexpr size_t kPollRecords = 5000;

// "7d", "36h", "90m", "30s" or any absl duration ("1h30m").
bool ParseAgo(absl::string_view text, absl::Duration* out) {
  int64_t days = 0;
  if (absl::ConsumeSuffix(&text, "d") && absl::SimpleAtoi(text, &days) &&
      days >= 0) {
    *out = absl::Hours(24 * days);
    return true;
  }
  return absl::ParseDuration(text, out) && *out >= absl::ZeroDuration() &&
         *out != absl::InfiniteDuration();
}

}  // namespace

absl::StatusOr<Position> ParsePosition(absl::string_view text, absl::Time now) {
  const std::string lower = absl::AsciiStrToLower(text);
  absl::string_view t = lower;
  Position p;
  int64_t number = 0;
  if (t == "earliest" || t == "beginning") return p;
  if (t == "latest" || t == "end") {
    p.kind = Position::Kind::kLatest;
    return p;
  }
  if (absl::SimpleAtoi(t, &number) && number >= 0) {
    p.kind = Position::Kind::kOffset;
    p.value = number;
    return p;
  }
  if ((absl::ConsumePrefix(&t, "s@") || absl::ConsumePrefix(&t, "e@") ||
       absl::ConsumePrefix(&t, "@")) &&
      absl::SimpleAtoi(t, &number) && number >= 0) {
    p.kind = Position::Kind::kTime;
    p.value = number;
    return p;
  }
  absl::Time time;
  std::string error;
  if (absl::ParseTime(absl::RFC3339_full, text, &time, &error)) {
    p.kind = Position::Kind::kTime;
    p.value = absl::ToUnixMillis(time);
    return p;
  }
  absl::Duration ago;
  if (ParseAgo(t, &ago)) {
    p.kind = Position::Kind::kTime;
    p.value = absl::ToUnixMillis(now - ago);
    return p;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "\"", text,
      "\" is not a position: expected earliest, latest, an offset, an RFC "
      "3339 time (2026-11-20T00:00:00Z), @<epoch ms> or a duration ago "
      "(7d, 36h, 90m)"));
}

absl::StatusOr<std::vector<int32_t>> ParsePartitions(absl::string_view text) {
  std::vector<int32_t> out;
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    int32_t p = 0;
    if (!absl::SimpleAtoi(part, &p) || p < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("partitions: \"", part, "\" is not a partition number"));
    }
    out.push_back(p);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

absl::StatusOr<std::unique_ptr<kafka::Consumer>> MakeReader(
    const kafka::Properties& props) {
  kafka::Properties reader = props;
  reader.emplace_back("group.id", "tailor-ops.reader");  // never joined
  reader.emplace_back("enable.partition.eof", "true");
  reader.emplace_back("isolation.level", "read_committed");
  // A bounded read must not wait out a 500 ms fetch long-poll at every
  // partition end.
  reader.emplace_back("fetch.wait.max.ms", "5");
  reader.emplace_back("fetch.max.bytes", "52428800");
  return kafka::Consumer::Create(reader, nullptr);
}

absl::StatusOr<int32_t> PartitionCount(kafka::Consumer& reader,
                                       const std::string& topic) {
  const rd_kafka_metadata_t* raw = nullptr;
  const rd_kafka_resp_err_t err = rd_kafka_metadata(
      reader.raw(), /*all_topics=*/1, nullptr, &raw,
      static_cast<int>(absl::ToInt64Milliseconds(kQueryTimeout)));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::UnavailableError(absl::StrCat(
        "cannot read the cluster's metadata: ", rd_kafka_err2str(err)));
  }
  kafka::MetadataPtr metadata(raw);
  for (int i = 0; i < metadata->topic_cnt; ++i) {
    const rd_kafka_metadata_topic_t& t = metadata->topics[i];
    if (topic == t.topic && t.err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      return t.partition_cnt;
    }
  }
  return absl::NotFoundError(
      absl::StrCat("topic ", topic, " does not exist on the cluster"));
}

absl::StatusOr<int64_t> Resolve(kafka::Consumer& reader,
                                const std::string& topic, int32_t partition,
                                const Position& position) {
  TAILOR_ASSIGN_OR_RETURN(
      auto marks, reader.QueryWatermarks(topic, partition, kQueryTimeout));
  const auto [low, high] = marks;
  switch (position.kind) {
    case Position::Kind::kEarliest:
      return low;
    case Position::Kind::kLatest:
      return high;
    case Position::Kind::kOffset:
      return std::clamp(position.value, low, high);
    case Position::Kind::kTime:
      break;
  }
  kafka::TopicPartitionListPtr list = kafka::ToPartitionList(
      {kafka::TopicPartition{topic, partition, position.value}});
  const rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(
      reader.raw(), list.get(),
      static_cast<int>(absl::ToInt64Milliseconds(kQueryTimeout)));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR || list->elems[0].err) {
    return absl::UnavailableError(
        absl::StrCat("cannot look up a time in ", topic, "[", partition,
                     "]: ", rd_kafka_err2str(err ? err : list->elems[0].err)));
  }
  const int64_t offset = list->elems[0].offset;
  // No record at or after the time: the end.
  return offset < 0 ? high : std::clamp(offset, low, high);
}

absl::StatusOr<std::vector<PartitionSpan>> ResolveRange(
    kafka::Consumer& reader, const TopicRange& range) {
  std::vector<PartitionSpan> spans;
  for (const std::string& topic : range.topics) {
    TAILOR_ASSIGN_OR_RETURN(const int32_t count, PartitionCount(reader, topic));
    std::vector<int32_t> partitions = range.partitions;
    if (partitions.empty()) {
      for (int32_t p = 0; p < count; ++p) partitions.push_back(p);
    }
    for (int32_t p : partitions) {
      if (p >= count) {
        return absl::InvalidArgumentError(absl::StrCat(
            "partitions: ", topic, " has ", count, " partitions, no ", p));
      }
      PartitionSpan span{topic, p, 0, 0};
      TAILOR_ASSIGN_OR_RETURN(span.from, Resolve(reader, topic, p, range.from));
      TAILOR_ASSIGN_OR_RETURN(span.to, Resolve(reader, topic, p, range.to));
      span.to = std::max(span.to, span.from);
      spans.push_back(std::move(span));
    }
  }
  return spans;
}

absl::Status ReadSpans(kafka::Consumer& reader,
                       const std::vector<PartitionSpan>& spans,
                       absl::FunctionRef<absl::Status(const kafka::Record&)> fn,
                       Progress* progress) {
  return ReadSpans(
      reader, spans, [&](kafka::Record& r) { return fn(r); },
      [](const PartitionSpan&) {}, progress);
}

absl::Status ReadSpans(kafka::Consumer& reader,
                       const std::vector<PartitionSpan>& spans,
                       absl::FunctionRef<absl::Status(kafka::Record&)> fn,
                       absl::FunctionRef<void(const PartitionSpan&)> done,
                       Progress* progress) {
  // Still to read, by topic and partition: the span.
  absl::flat_hash_map<std::pair<std::string, int32_t>, const PartitionSpan*>
      open;
  std::vector<kafka::TopicPartition> assignment;
  int64_t total = 0;
  for (const PartitionSpan& s : spans) {
    if (s.to <= s.from) {
      done(s);
      continue;
    }
    open[{s.topic, s.partition}] = &s;
    assignment.push_back(kafka::TopicPartition{s.topic, s.partition, s.from});
    total += s.to - s.from;
  }
  if (progress != nullptr) progress->SetTotal(total);
  if (open.empty()) return absl::OkStatus();
  TAILOR_RETURN_IF_ERROR(reader.Assign(assignment));
  std::vector<kafka::Record> records;
  std::vector<kafka::TopicPartition> ends;
  absl::Status status;
  const auto finish = [&](auto it) {
    done(*it->second);
    open.erase(it);
  };
  while (!open.empty() && status.ok()) {
    TAILOR_RETURN_IF_ERROR(reader.PollBatch(
        kPollRecords, absl::Milliseconds(200), &records, &ends));
    int64_t taken = 0;
    for (kafka::Record& r : records) {
      auto it =
          open.find(std::make_pair(std::string(r.topic()), r.partition()));
      if (it == open.end() || r.offset() >= it->second->to) continue;
      ++taken;
      const bool last = r.offset() + 1 >= it->second->to;
      status = fn(r);
      if (!status.ok()) break;
      if (last) finish(it);
    }
    records.clear();
    if (progress != nullptr) progress->Add(taken);
    if (!status.ok()) break;
    // The end of a partition (its range was resolved at or before it), or
    // a position past the range's end (transaction markers skipped).
    for (const kafka::TopicPartition& end : ends) {
      auto it = open.find(std::make_pair(end.topic, end.partition));
      if (it != open.end()) finish(it);
    }
    for (auto it = open.begin(); it != open.end();) {
      absl::StatusOr<int64_t> pos =
          reader.Position(it->first.first, it->first.second);
      if (pos.ok() && *pos >= it->second->to) {
        finish(it++);
      } else {
        ++it;
      }
    }
  }
  TAILOR_RETURN_IF_ERROR(reader.Assign({}));
  return status;
}

}  // namespace tailor::ops
