// tailor-ops export: everything tailor holds about one customer, as one
// JSON document, for a GDPR access request (art. 15): the profile and its
// pending timers, the decisions on the decision topics (in retention), the
// dead letters keyed by the customer and the records of the audit topic
// keyed by the customer.
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "libs/base/keyed_hash.h"
#include "libs/base/status_macros.h"
#include "libs/pipeline/json_view.h"
#include "libs/pipeline/pipeline.h"
#include "tailor/v1/audit.pb.h"
#include "tools/ops/common.h"
#include "tools/ops/customer.h"
#include "tools/ops/dead_letters.h"
#include "tools/ops/shared_flags.h"
#include "tools/ops/subcommand.h"
#include "tools/ops/topic_range.h"

ABSL_FLAG(std::string, audit_topic, "",
          "The audit topic of privacy actions (default: topics.audit of the "
          "config); skipped when it does not exist. Its records are keyed by "
          "the keyed hash of the customer id (audit_salt_file).");
ABSL_FLAG(std::string, output, "",
          "Write the document to this file instead of stdout.");

namespace tailor::ops {

using pipeline::JsonArray;
using pipeline::JsonObject;
using pipeline::JsonQuote;

namespace {

// Every record keyed `key` on every partition of `topic` (none when the topic
// does not exist).
absl::StatusOr<std::vector<KeyedRecord>> AllWithKey(kafka::Consumer& reader,
                                                    const std::string& topic,
                                                    absl::string_view key,
                                                    bool* exists,
                                                    Progress* progress) {
  std::vector<KeyedRecord> out;
  absl::StatusOr<int32_t> count = PartitionCount(reader, topic);
  *exists = count.ok();
  if (absl::IsNotFound(count.status())) return out;
  TAILOR_RETURN_IF_ERROR(count.status());
  for (int32_t p = 0; p < *count; ++p) {
    TAILOR_ASSIGN_OR_RETURN(std::vector<KeyedRecord> found,
                            RecordsWithKey(reader, topic, p, key, 0, progress));
    out.insert(out.end(), std::make_move_iterator(found.begin()),
               std::make_move_iterator(found.end()));
  }
  return out;
}

absl::StatusOr<std::string> Export(const OpsConfig& config,
                                   const std::string& customer,
                                   Progress* progress) {
  const tailor::v1::TopicsConfig& topics = config.service.topics();
  TAILOR_ASSIGN_OR_RETURN(std::unique_ptr<kafka::Consumer> reader,
                          MakeReader(config.kafka));
  TAILOR_ASSIGN_OR_RETURN(
      const int32_t partition,
      KeyPartition(*reader, topics.clickstream(), customer));
  const std::string state_dir = absl::GetFlag(FLAGS_state_dir);
  ProfileLookup lookup;
  if (state_dir.empty()) {
    TAILOR_ASSIGN_OR_RETURN(
        lookup, ProfileFromChangelog(*reader, topics.changelog(), customer,
                                     partition, progress));
  } else {
    TAILOR_ASSIGN_OR_RETURN(lookup,
                            ProfileFromState(state_dir, customer, partition));
  }
  JsonObject profile;
  AddProfileLookup(customer, lookup, &profile);

  const std::vector<std::string> decision_topics = {topics.decisions_log()};
  TAILOR_ASSIGN_OR_RETURN(
      std::vector<KeyedRecord> decisions,
      DecisionsOf(*reader, decision_topics, customer, 0, progress));

  TAILOR_ASSIGN_OR_RETURN(
      const int32_t dlq_partition,
      KeyPartition(*reader, topics.dead_letter(), customer));
  TAILOR_ASSIGN_OR_RETURN(std::vector<KeyedRecord> letters,
                          RecordsWithKey(*reader, topics.dead_letter(),
                                         dlq_partition, customer, 0, progress));
  std::vector<std::string> dead_letters;
  for (KeyedRecord& r : letters) {
    dead_letters.push_back(DeadLetterJson(ReadDeadLetter(std::move(r)), true));
  }

  std::string audit_topic = absl::GetFlag(FLAGS_audit_topic);
  if (audit_topic.empty()) audit_topic = topics.audit();
  bool audit_exists = false;
  std::vector<std::string> audit;
  {
    // The audit topic never names the customer: its key is the keyed hash.
    TAILOR_ASSIGN_OR_RETURN(const std::string salt,
                            pipeline::AuditSalt(config.service));
    TAILOR_ASSIGN_OR_RETURN(
        std::vector<KeyedRecord> records,
        AllWithKey(*reader, audit_topic, KeyedHashHex(salt, customer),
                   &audit_exists, progress));
    for (const KeyedRecord& r : records) {
      JsonObject o;
      o.String("topic", r.topic)
          .Int("partition", r.partition)
          .Int("offset", r.offset)
          .Int("timestamp_ms", r.timestamp_ms);
      tailor::v1::AuditRecord record;
      if (record.ParseFromString(r.value)) {
        o.Raw("record", pipeline::ProtoJson(record));
      } else {
        o.Bytes("value", r.value);
      }
      audit.push_back(o.Done());
    }
  }

  std::vector<std::string> sources = {JsonQuote(lookup.source)};
  for (const std::string& t : decision_topics) sources.push_back(JsonQuote(t));
  sources.push_back(JsonQuote(topics.dead_letter()));
  if (audit_exists) sources.push_back(JsonQuote(audit_topic));
  return JsonObject()
      .Bytes("customer_id", customer)
      .String("exported_at", absl::FormatTime(absl::RFC3339_sec, absl::Now(),
                                              absl::UTCTimeZone()))
      .Raw("sources", JsonArray(sources))
      .Raw("profile", profile.Done())
      .Raw("decisions", DecisionsJson(decisions))
      .Raw("dead_letters", JsonArray(dead_letters))
      .Raw("audit", audit_exists ? JsonArray(audit) : "null")
      .Done();
}

int RunExport(const std::vector<std::string>& args) {
  if (args.size() != 1 || args[0].empty()) {
    return Fail(kExitUsage,
                "expected one argument, the customer id (see tailor-ops "
                "export --help)");
  }
  absl::StatusOr<OpsConfig> config = LoadOpsConfig();
  if (!config.ok()) return Fail(kExitUsage, config.status());
  Progress progress("export", 0);
  absl::StatusOr<std::string> document = Export(*config, args[0], &progress);
  progress.Finish();
  if (!document.ok()) {
    return Fail(absl::IsNotFound(document.status()) ? kExitUsage : kExitRuntime,
                document.status());
  }
  if (const std::string path = absl::GetFlag(FLAGS_output); !path.empty()) {
    std::ofstream out(path, std::ios::trunc);
    out << *document << "\n";
    out.close();
    if (!out)
      return Fail(kExitUsage, absl::StrCat("--output: cannot write ", path));
    return kExitOk;
  }
  std::printf("%s\n", document->c_str());
  return kExitOk;
}

}  // namespace

TAILOR_OPS_SUBCOMMAND(
    kExport,
    {.name = "export",
     .summary = "everything tailor holds about one customer, as one JSON "
                "document (GDPR access request)",
     .usage =
         "export CUSTOMER_ID [--state_dir=DIR] [--output=FILE] [flags]\n\n"
         "The document: customer_id, exported_at, sources, profile (with "
         "pending timers; from --state_dir, read-only, else from the "
         "changelog partition of the key), decisions (every decision keyed "
         "by the customer still on the decision topics), dead_letters (the "
         "dead letters keyed by the customer, originals decoded) and audit "
         "(the records of --audit_topic keyed by the customer; null when "
         "the topic does not exist). Progress on stderr while scanning",
     .flags_file = __FILE__,
     .shared_flags = {"state_dir"},
     .run = &RunExport});

}  // namespace tailor::ops
