#include "tools/ops/group.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "libs/base/status_macros.h"

namespace tailor::ops {
namespace {

constexpr int kTimeoutMs = 10000;

}  // namespace

absl::Status CheckGroupEmpty(kafka::Consumer& client,
                             const std::string& group) {
  const rd_kafka_group_list* raw = nullptr;
  const rd_kafka_resp_err_t err =
      rd_kafka_list_groups(client.raw(), group.c_str(), &raw, kTimeoutMs);
  if (err == RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE) {
    return absl::UnimplementedError(absl::StrCat(
        "cannot tell whether consumer group ", group,
        " has active members: the broker cannot describe groups (the "
        "embedded devbroker cannot)"));
  }
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::UnavailableError(absl::StrCat(
        "cannot describe consumer group ", group, ": ", rd_kafka_err2str(err)));
  }
  std::unique_ptr<const rd_kafka_group_list,
                  decltype(&rd_kafka_group_list_destroy)>
      list(raw, &rd_kafka_group_list_destroy);
  for (int i = 0; i < list->group_cnt; ++i) {
    const rd_kafka_group_info& info = list->groups[i];
    if (group != info.group || info.member_cnt == 0) continue;
    std::vector<std::string> members;
    for (int m = 0; m < info.member_cnt; ++m) {
      members.push_back(absl::StrCat(info.members[m].client_id, "@",
                                     info.members[m].client_host));
    }
    return absl::FailedPreconditionError(absl::StrCat(
        "consumer group ", group, " has ", info.member_cnt, " active members (",
        absl::StrJoin(members, ", "), "): stop the personalizers first"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<kafka::TopicPartition>> GroupCommitted(
    const kafka::Properties& props, const std::string& group,
    const std::vector<kafka::TopicPartition>& partitions) {
  kafka::Properties client = props;
  client.emplace_back("group.id", group);
  client.emplace_back("enable.auto.commit", "false");
  // Never subscribes or assigns: it asks the coordinator, it does not join.
  TAILOR_ASSIGN_OR_RETURN(std::unique_ptr<kafka::Consumer> consumer,
                          kafka::Consumer::Create(client, nullptr));
  TAILOR_ASSIGN_OR_RETURN(
      std::vector<kafka::TopicPartition> committed,
      consumer->Committed(partitions, absl::Milliseconds(kTimeoutMs)));
  for (kafka::TopicPartition& tp : committed) {
    if (tp.offset < 0) tp.offset = -1;
  }
  return committed;
}

}  // namespace tailor::ops
