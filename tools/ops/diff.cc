// tailor-ops diff: two decision files, or a file against what the decision
// topics carried over a range, matched by decision id.
#include <algorithm>
#include <cstdio>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "libs/base/status_macros.h"
#include "tools/ops/common.h"
#include "tools/ops/decision_file.h"
#include "tools/ops/progress.h"
#include "tools/ops/shared_flags.h"
#include "tools/ops/subcommand.h"
#include "tools/ops/topic_range.h"

ABSL_FLAG(std::string, actions, "auto",
          "Which decisions to compare: all, send (SEND only), or auto: send "
          "against the delivery topics (which carry SEND decisions), all "
          "otherwise.");

namespace tailor::ops {
namespace {

using tailor::v1::Decision;

constexpr absl::string_view kUsage =
    "diff A B [flags]   or   diff A [--topics=T,...] [flags]\n\n"
    "Compares two decision files (ndjson or delimited, told apart by their\n"
    "content), or file A against the decisions the topics carried over a\n"
    "range. Decisions are matched by decision_id (deterministic). Prints\n"
    "counts per campaign, kind and action on each side, the customers who\n"
    "gain or lose a SEND, and a sample of changed decisions with their\n"
    "reasons and facts side by side. Exit status 1 when there are\n"
    "differences, 0 when there are none.";

// One side: decisions by id, in id order.
struct Side {
  std::string name;
  std::map<std::string, Decision> by_id;
  int64_t repeated = 0;  // the same id seen again (redelivery)
};

absl::Status Add(Side& side, bool send_only, Decision& d) {
  if (send_only && d.action() != tailor::v1::DECISION_ACTION_SEND) {
    return absl::OkStatus();
  }
  auto [it, inserted] = side.by_id.try_emplace(d.decision_id());
  if (!inserted) ++side.repeated;
  it->second = std::move(d);
  return absl::OkStatus();
}

absl::Status ReadTopics(const OpsConfig& config,
                        const std::vector<std::string>& topics, bool send_only,
                        Side& side) {
  TAILOR_ASSIGN_OR_RETURN(std::unique_ptr<kafka::Consumer> reader,
                          MakeReader(config.kafka));
  TAILOR_ASSIGN_OR_RETURN(TopicRange range, RangeFromFlags(topics));
  TAILOR_ASSIGN_OR_RETURN(std::vector<PartitionSpan> spans,
                          ResolveRange(*reader, range));
  Progress progress("diff: reading topics", 0);
  Decision d;
  return ReadSpans(
      *reader, spans,
      [&](const kafka::Record& r) {
        d.Clear();
        if (!d.ParseFromArray(r.value().data(),
                              static_cast<int>(r.value().size()))) {
          return absl::DataLossError(
              absl::StrCat(r.topic(), "[", r.partition(), "]@", r.offset(),
                           " is not a tailor.v1.Decision"));
        }
        return Add(side, send_only, d);
      },
      &progress);
}

std::string Name(const Decision& d) {
  return absl::StrCat(tailor::v1::DecisionKind_Name(d.kind()), "/",
                      tailor::v1::DecisionAction_Name(d.action()));
}

std::string Facts(const Decision& d) {
  std::vector<std::string> out;
  for (const auto& f : d.facts())
    out.push_back(absl::StrCat(f.name(), "=", f.value()));
  return absl::StrJoin(out, ",");
}

// What differs between two versions of a decision, one line per field
// ("modified: coupon.percent_off: 15 -> 20").
std::string Differences(const Decision& a, const Decision& b) {
  std::string out;
  {
    google::protobuf::util::MessageDifferencer differ;
    differ.ReportDifferencesToString(&out);
    differ.Compare(a, b);
  }  // the report is complete once the differencer is gone
  return out;
}

google::protobuf::Value JsonValue(const google::protobuf::Message& m) {
  google::protobuf::Value v;
  (void)google::protobuf::util::JsonStringToMessage(ToJsonLine(m), &v);
  return v;
}

struct Report {
  // (campaign, kind, action) -> count on each side.
  std::map<std::tuple<std::string, std::string, std::string>,
           std::pair<int64_t, int64_t>>
      counts;
  std::vector<std::string> only_a, only_b, changed;
  std::set<std::string> gained, lost;  // customers with a SEND in one only
};

Report Compare(const Side& a, const Side& b) {
  Report r;
  for (const auto* side : {&a, &b}) {
    for (const auto& [id, d] : side->by_id) {
      auto& c = r.counts[{d.campaign(), tailor::v1::DecisionKind_Name(d.kind()),
                          tailor::v1::DecisionAction_Name(d.action())}];
      (side == &a ? c.first : c.second) += 1;
    }
  }
  std::set<std::string> sent_a, sent_b;
  for (const auto& [id, d] : a.by_id) {
    if (d.action() == tailor::v1::DECISION_ACTION_SEND)
      sent_a.insert(d.customer_id());
    auto it = b.by_id.find(id);
    if (it == b.by_id.end()) {
      r.only_a.push_back(id);
    } else if (!google::protobuf::util::MessageDifferencer::Equals(
                   d, it->second)) {
      r.changed.push_back(id);
    }
  }
  for (const auto& [id, d] : b.by_id) {
    if (d.action() == tailor::v1::DECISION_ACTION_SEND)
      sent_b.insert(d.customer_id());
    if (!a.by_id.contains(id)) r.only_b.push_back(id);
  }
  std::set_difference(sent_b.begin(), sent_b.end(), sent_a.begin(),
                      sent_a.end(), std::inserter(r.gained, r.gained.end()));
  std::set_difference(sent_a.begin(), sent_a.end(), sent_b.begin(),
                      sent_b.end(), std::inserter(r.lost, r.lost.end()));
  return r;
}

// The ids to show: changed first, then only in A, then only in B.
std::vector<std::string> Sample(const Report& r, size_t n) {
  std::vector<std::string> out;
  for (const auto* list : {&r.changed, &r.only_a, &r.only_b}) {
    for (const std::string& id : *list) {
      if (out.size() >= n) return out;
      out.push_back(id);
    }
  }
  return out;
}

const Decision* Find(const Side& side, const std::string& id) {
  auto it = side.by_id.find(id);
  return it == side.by_id.end() ? nullptr : &it->second;
}

void PrintTable(const Side& a, const Side& b, const Report& r, size_t n) {
  std::printf("A: %s (%zu decisions)\nB: %s (%zu decisions)\n\n",
              a.name.c_str(), a.by_id.size(), b.name.c_str(), b.by_id.size());
  std::printf("%-28s %-32s %-28s %9s %9s %9s\n", "campaign", "kind", "action",
              "A", "B", "B-A");
  for (const auto& [key, c] : r.counts) {
    const auto& [campaign, kind, action] = key;
    std::printf("%-28s %-32s %-28s %9lld %9lld %+9lld%s\n", campaign.c_str(),
                kind.c_str(), action.c_str(), static_cast<long long>(c.first),
                static_cast<long long>(c.second),
                static_cast<long long>(c.second - c.first),
                c.first != c.second ? "  *" : "");
  }
  std::printf(
      "\nonly in A: %zu   only in B: %zu   changed: %zu   customers gaining a "
      "SEND: %zu   losing one: %zu\n",
      r.only_a.size(), r.only_b.size(), r.changed.size(), r.gained.size(),
      r.lost.size());
  if (a.repeated + b.repeated > 0) {
    std::printf("(ids seen more than once, compared once: A %lld, B %lld)\n",
                static_cast<long long>(a.repeated),
                static_cast<long long>(b.repeated));
  }
  for (const std::string& id : Sample(r, n)) {
    const Decision* da = Find(a, id);
    const Decision* db = Find(b, id);
    const Decision& any = da != nullptr ? *da : *db;
    std::printf("\n%s  customer %s  campaign %s\n", id.c_str(),
                any.customer_id().c_str(), any.campaign().c_str());
    const auto row = [](const char* what, const Decision* d,
                        std::string (*field)(const Decision&)) {
      std::printf("  %-8s %s\n", what, d == nullptr ? "-" : field(*d).c_str());
    };
    const auto reasons = [](const Decision& d) {
      return absl::StrCat(absl::StrJoin(d.reason_codes(), ","),
                          d.suppression().empty() ? "" : " suppressed by ",
                          d.suppression());
    };
    for (const auto& [label, d] : {std::pair{"A", da}, std::pair{"B", db}}) {
      std::printf("  %s:\n", label);
      row("action", d, &Name);
      row("reasons", d, +reasons);
      row("facts", d, &Facts);
    }
    if (da != nullptr && db != nullptr) {
      std::printf("  A -> B:\n");
      for (absl::string_view line :
           absl::StrSplit(Differences(*da, *db), '\n', absl::SkipEmpty())) {
        std::printf("    %.*s\n", static_cast<int>(line.size()), line.data());
      }
    }
  }
}

void PrintJson(const Side& a, const Side& b, const Report& r, size_t n) {
  google::protobuf::Struct out;
  auto& f = *out.mutable_fields();
  f["a"].set_string_value(a.name);
  f["b"].set_string_value(b.name);
  f["a_decisions"].set_number_value(static_cast<double>(a.by_id.size()));
  f["b_decisions"].set_number_value(static_cast<double>(b.by_id.size()));
  auto* counts = f["counts"].mutable_list_value();
  for (const auto& [key, c] : r.counts) {
    auto& row = *counts->add_values()->mutable_struct_value()->mutable_fields();
    row["campaign"].set_string_value(std::get<0>(key));
    row["kind"].set_string_value(std::get<1>(key));
    row["action"].set_string_value(std::get<2>(key));
    row["a"].set_number_value(static_cast<double>(c.first));
    row["b"].set_number_value(static_cast<double>(c.second));
  }
  const auto list = [&](const char* name, const auto& ids) {
    auto* l = f[name].mutable_list_value();
    for (const std::string& id : ids) l->add_values()->set_string_value(id);
  };
  list("only_in_a", r.only_a);
  list("only_in_b", r.only_b);
  list("changed", r.changed);
  list("customers_gained", r.gained);
  list("customers_lost", r.lost);
  auto* sample = f["sample"].mutable_list_value();
  for (const std::string& id : Sample(r, n)) {
    auto& row = *sample->add_values()->mutable_struct_value()->mutable_fields();
    row["decision_id"].set_string_value(id);
    const Decision* da = Find(a, id);
    const Decision* db = Find(b, id);
    if (da != nullptr) {
      *row["a"].mutable_struct_value() = JsonValue(*da).struct_value();
    }
    if (db != nullptr) {
      *row["b"].mutable_struct_value() = JsonValue(*db).struct_value();
    }
    if (da != nullptr && db != nullptr) {
      row["differences"].set_string_value(Differences(*da, *db));
    }
  }
  std::printf("%s\n", ToJsonLine(out).c_str());
}

int RunDiff(const std::vector<std::string>& args) {
  if (args.empty() || args.size() > 2) {
    return Fail(kExitUsage,
                "expected one decision file (compared with the topics) or two "
                "(see --help)");
  }
  const std::string actions = absl::GetFlag(FLAGS_actions);
  if (actions != "all" && actions != "send" && actions != "auto") {
    return Fail(kExitUsage, absl::StrCat("--actions: expected all, send or "
                                         "auto, got \"",
                                         actions, "\""));
  }
  if (absl::GetFlag(FLAGS_sample) < 0) {
    return Fail(kExitUsage, "--sample: must be >= 0");
  }
  const bool with_topics = args.size() == 1;
  std::vector<std::string> topics = absl::GetFlag(FLAGS_topics);
  if (!with_topics && !topics.empty()) {
    return Fail(kExitUsage, "--topics: only with one file (two were given)");
  }
  OpsConfig config;
  if (with_topics) {
    absl::StatusOr<OpsConfig> loaded = LoadOpsConfig(/*needs_kafka=*/true);
    if (!loaded.ok()) return Fail(kExitUsage, loaded.status());
    config = *std::move(loaded);
  }
  // By default the decisions log, which carries every decision; delivery
  // topics carry SEND decisions only.
  if (with_topics && topics.empty()) {
    topics = {config.service.topics().decisions_log()};
  }
  const auto& t = config.service.topics();
  const bool delivery_topics =
      with_topics &&
      std::all_of(topics.begin(), topics.end(), [&](const std::string& name) {
        return name == t.coupons() || name == t.push() ||
               name == t.cart_reminders() || name == t.agent_escalations();
      });
  const bool send_only =
      actions == "send" || (actions == "auto" && delivery_topics);

  Side a{args[0], {}};
  Side b{with_topics ? absl::StrCat("topics ", absl::StrJoin(topics, ","))
                     : args[1],
         {}};
  for (Side* side : {&a, &b}) {
    if (side == &b && with_topics) continue;
    absl::Status s = ReadDecisionFile(
        side->name, [&](Decision& d) { return Add(*side, send_only, d); });
    if (!s.ok()) {
      return Fail(
          s.code() == absl::StatusCode::kNotFound ? kExitUsage : kExitRuntime,
          s);
    }
  }
  if (with_topics) {
    absl::Status s = ReadTopics(config, topics, send_only, b);
    if (!s.ok()) {
      return Fail(s);
    }
  }
  const Report report = Compare(a, b);
  const size_t n = static_cast<size_t>(absl::GetFlag(FLAGS_sample));
  if (absl::GetFlag(FLAGS_json)) {
    PrintJson(a, b, report, n);
  } else {
    if (send_only) std::printf("(SEND decisions only)\n");
    PrintTable(a, b, report, n);
  }
  const bool differ = !report.only_a.empty() || !report.only_b.empty() ||
                      !report.changed.empty();
  return differ ? kExitDifferences : kExitOk;
}

}  // namespace

TAILOR_OPS_SUBCOMMAND(kDiff, {.name = "diff",
                              .summary = "compare decisions: two files, or a "
                                         "file against the decision topics",
                              .usage = kUsage,
                              .flags_file = __FILE__,
                              .shared_flags = {"topics", "from", "to",
                                               "partitions", "sample", "json"},
                              .run = &RunDiff});

}  // namespace tailor::ops
