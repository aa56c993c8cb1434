#include "tools/ops/customer.h"

#include <algorithm>
#include <memory>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "libs/base/murmur2.h"
#include "libs/base/status_macros.h"
#include "libs/pipeline/json_view.h"
#include "tailor/v1/decision.pb.h"
#include "tools/ops/state_reader.h"
#include "tools/ops/topic_range.h"

namespace tailor::ops {

using pipeline::JsonArray;
using pipeline::JsonObject;
using pipeline::ProtoJson;

namespace {

constexpr absl::Duration kTimeout = absl::Seconds(10);
constexpr int64_t kFirstChunk = 1000;

}  // namespace

absl::StatusOr<ProfileLookup> ProfileFromState(const std::string& state_dir,
                                               absl::string_view customer_id,
                                               int32_t partition) {
  TAILOR_ASSIGN_OR_RETURN(std::unique_ptr<StateReader> state,
                          StateReader::Open(state_dir));
  ProfileLookup out;
  out.partition = partition;
  out.source = absl::StrCat("state ", state_dir);
  std::string bytes;
  TAILOR_ASSIGN_OR_RETURN(
      const bool found,
      state->store().GetProfile(partition, customer_id, &bytes));
  if (found) {
    tailor::v1::CustomerProfile profile;
    if (!profile.ParseFromString(bytes)) {
      return absl::DataLossError(
          absl::StrCat("the profile in ", state_dir, " (partition ", partition,
                       ") does not decode as a tailor.v1.CustomerProfile"));
    }
    out.profile = std::move(profile);
  }
  return out;
}

absl::StatusOr<std::vector<KeyedRecord>> RecordsWithKey(
    kafka::Consumer& reader, const std::string& topic, int32_t partition,
    absl::string_view key, int64_t max, Progress* progress) {
  TAILOR_ASSIGN_OR_RETURN(auto marks,
                          reader.QueryWatermarks(topic, partition, kTimeout));
  const auto [low, high] = marks;
  std::vector<KeyedRecord> found;
  int64_t end = high;
  int64_t chunk = max <= 0 ? high - low : kFirstChunk;
  while (end > low && (max <= 0 || static_cast<int64_t>(found.size()) < max)) {
    const int64_t from = std::max(low, end - chunk);
    std::vector<KeyedRecord> in_chunk;
    int64_t read = 0;
    TAILOR_RETURN_IF_ERROR(ReadSpans(
        reader, {PartitionSpan{topic, partition, from, end}},
        [&](const kafka::Record& r) {
          ++read;
          if (r.key() == key) in_chunk.push_back(CopyRecord(r));
          if (progress != nullptr && read % 1000 == 0) progress->Add(1000);
          return absl::OkStatus();
        },
        nullptr));
    if (progress != nullptr) progress->Add(read % 1000);
    found.insert(found.begin(), std::make_move_iterator(in_chunk.begin()),
                 std::make_move_iterator(in_chunk.end()));
    end = from;
    chunk *= 4;
  }
  if (max > 0 && static_cast<int64_t>(found.size()) > max) {
    found.erase(found.begin(), found.end() - max);
  }
  return found;
}

absl::StatusOr<ProfileLookup> ProfileFromChangelog(
    kafka::Consumer& reader, const std::string& changelog,
    absl::string_view customer_id, int32_t partition, Progress* progress) {
  TAILOR_ASSIGN_OR_RETURN(
      std::vector<KeyedRecord> last,
      RecordsWithKey(reader, changelog, partition, customer_id, 1, progress));
  ProfileLookup out;
  out.partition = partition;
  out.source = absl::StrCat(changelog, "[", partition, "]");
  if (last.empty()) return out;
  const KeyedRecord& r = last.back();
  out.source = absl::StrCat(changelog, "[", partition, "]@", r.offset);
  if (r.value.empty()) {
    out.erased = true;
    return out;
  }
  tailor::v1::CustomerProfile profile;
  if (!profile.ParseFromString(r.value)) {
    return absl::DataLossError(absl::StrCat(
        out.source, " does not decode as a tailor.v1.CustomerProfile"));
  }
  out.profile = std::move(profile);
  return out;
}

absl::StatusOr<int32_t> KeyPartition(kafka::Consumer& reader,
                                     const std::string& topic,
                                     absl::string_view key) {
  TAILOR_ASSIGN_OR_RETURN(const int32_t count, PartitionCount(reader, topic));
  return KafkaPartitionForKey(key, count);
}

void AddProfileLookup(absl::string_view customer_id,
                      const ProfileLookup& lookup, JsonObject* out) {
  JsonObject& o = *out;
  o.Bytes("customer_id", customer_id)
      .Int("partition", lookup.partition)
      .String("source", lookup.source)
      .Bool("erased", lookup.erased);
  if (!lookup.profile.has_value()) {
    o.Raw("profile", "null").Raw("pending_timers", "[]");
    return;
  }
  pipeline::AddProfileView(*lookup.profile, &o);
}

absl::StatusOr<std::vector<KeyedRecord>> DecisionsOf(
    kafka::Consumer& reader, const std::vector<std::string>& topics,
    absl::string_view customer_id, int64_t max, Progress* progress) {
  std::vector<KeyedRecord> all;
  for (const std::string& topic : topics) {
    TAILOR_ASSIGN_OR_RETURN(const int32_t partition,
                            KeyPartition(reader, topic, customer_id));
    TAILOR_ASSIGN_OR_RETURN(
        std::vector<KeyedRecord> found,
        RecordsWithKey(reader, topic, partition, customer_id, max, progress));
    all.insert(all.end(), std::make_move_iterator(found.begin()),
               std::make_move_iterator(found.end()));
  }
  std::stable_sort(all.begin(), all.end(),
                   [](const KeyedRecord& a, const KeyedRecord& b) {
                     return a.timestamp_ms < b.timestamp_ms;
                   });
  if (max > 0 && static_cast<int64_t>(all.size()) > max) {
    all.erase(all.begin(), all.end() - max);
  }
  return all;
}

std::string DecisionsJson(const std::vector<KeyedRecord>& records) {
  std::vector<std::string> out;
  for (const KeyedRecord& r : records) {
    JsonObject o;
    o.String("topic", r.topic)
        .Int("partition", r.partition)
        .Int("offset", r.offset);
    tailor::v1::Decision d;
    if (d.ParseFromString(r.value)) {
      o.Raw("decision", ProtoJson(d));
    } else {
      o.String("value_base64", absl::Base64Escape(r.value));
    }
    out.push_back(o.Done());
  }
  return JsonArray(out);
}

}  // namespace tailor::ops
