// devbroker: the embedded Kafka cluster (librdkafka's mock cluster) as a
// program, for local runs, the end-to-end bench and integration tests.
//
// Prints "bootstrap.servers=HOST:PORT[,...]" as its first stdout line once
// the topics exist, optionally writes the same line to --bootstrap_file
// (atomically), then serves until SIGTERM or SIGINT and exits 0.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "libs/base/cli.h"
#include "libs/base/log.h"
#include "libs/kafka/admin.h"
#include "libs/kafka/mock_cluster.h"

ABSL_FLAG(int, brokers, 1, "Number of mock brokers.");
ABSL_FLAG(int, partitions, 4, "Partitions per created topic.");
ABSL_FLAG(std::string, bootstrap_file, "",
          "If set, also write the bootstrap.servers line to this file "
          "(written to a temporary file, then renamed).");
ABSL_FLAG(std::string, topics,
          "clickstream,orders,privacy,decisions.coupons,decisions.push,"
          "decisions.cart-reminders,decisions.agent-escalations,"
          "tailor.decisions.log,tailor.outcomes,tailor.dlq,"
          "tailor.profiles.changelog,tailor.audit",
          "Comma-separated topics to create.");
ABSL_FLAG(std::string, compacted_topics, "tailor.profiles.changelog",
          "Comma-separated topics created with cleanup.policy=compact (the "
          "mock broker accepts but does not enforce it).");

namespace {

// Writes `content` to `path` so that readers never see a partial file.
bool WriteFileAtomically(const std::string& path, const std::string& content) {
  const std::string tmp = absl::StrCat(path, ".tmp.", getpid());
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << content;
    out.flush();
    if (!out) {
      spdlog::error("cannot write {}", tmp);
      return false;
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    spdlog::error("cannot rename {} to {}: {}", tmp, path,
                  std::strerror(errno));
    std::remove(tmp.c_str());
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  tailor::InitProgram(
      {.name = "devbroker",
       .usage = "devbroker [--bootstrap_file=FILE] [flags]\n\n"
                "The embedded Kafka cluster (librdkafka's mock cluster) for "
                "local runs and tests.\nPrints bootstrap.servers=HOST:PORT "
                "once the topics exist; serves until SIGTERM.",
       .flags_file = __FILE__},
      argc, argv);

  // Block the stop signals before librdkafka starts its threads, so that they
  // inherit the mask and only the sigwait() below receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  const int partitions = absl::GetFlag(FLAGS_partitions);
  auto cluster =
      tailor::kafka::MockCluster::Create(absl::GetFlag(FLAGS_brokers));
  if (!cluster.ok()) {
    spdlog::error("{}", cluster.status().ToString());
    return 1;
  }
  const std::string bootstrap = (*cluster)->bootstrap_servers();
  {
    auto admin = tailor::kafka::Admin::Create(
        {{"bootstrap.servers", bootstrap}}, cluster->get());
    if (!admin.ok()) {
      spdlog::error("{}", admin.status().ToString());
      return 1;
    }
    const std::vector<std::string> compacted = absl::StrSplit(
        absl::GetFlag(FLAGS_compacted_topics), ',', absl::SkipWhitespace());
    std::vector<tailor::kafka::Admin::NewTopic> topics;
    for (absl::string_view name : absl::StrSplit(absl::GetFlag(FLAGS_topics),
                                                 ',', absl::SkipWhitespace())) {
      tailor::kafka::Admin::NewTopic topic;
      topic.name = std::string(name);
      topic.partitions = partitions;
      if (std::find(compacted.begin(), compacted.end(), topic.name) !=
          compacted.end()) {
        topic.configs.emplace_back("cleanup.policy", "compact");
      }
      topics.push_back(std::move(topic));
    }
    absl::Status created = (*admin)->CreateTopics(topics, absl::Seconds(10));
    if (!created.ok()) {
      spdlog::error("{}", created.ToString());
      return 1;
    }
    spdlog::info("{} topics with {} partitions each", topics.size(),
                 partitions);
  }

  const std::string line = absl::StrCat("bootstrap.servers=", bootstrap);
  std::cout << line << std::endl;  // endl flushes.
  const std::string bootstrap_file = absl::GetFlag(FLAGS_bootstrap_file);
  if (!bootstrap_file.empty() &&
      !WriteFileAtomically(bootstrap_file, line + "\n")) {
    return 1;
  }

  int signal_number = 0;
  while (sigwait(&stop_signals, &signal_number) != 0) {
  }
  spdlog::info("stopping on signal {}", signal_number);
  if (!bootstrap_file.empty()) std::remove(bootstrap_file.c_str());
  cluster->reset();
  return 0;
}
