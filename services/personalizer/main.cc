// The personalizer service: reads clickstream, order and privacy events,
// keeps customer profiles in RocksDB and emits personalization decisions.
//
//   personalizer --config=personalizer.yaml [--bootstrap_servers=...]
//
// Every config field can also be set by an environment variable
// (TAILOR_<FIELD>, e.g. TAILOR_BOOTSTRAP_SERVERS, TAILOR_TOPICS_CLICKSTREAM);
// flags override the environment, which overrides the file. All values are
// checked before the service waits for anything (a bootstrap file, a broker).
//
// SIGTERM/SIGINT finish the batch, commit and leave the group; SIGHUP reloads
// the rules file (an invalid file is refused and the old rules keep running).
#include <pthread.h>
#include <signal.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "libs/base/build_info.h"
#include "libs/base/cli.h"
#include "libs/base/log.h"
#include "libs/base/status_macros.h"
#include "libs/config/bootstrap_file.h"
#include "libs/config/service_config.h"
#include "libs/config/yaml_proto.h"
#include "libs/decide/engine.h"
#include "libs/kafka/config.h"
#include "libs/pipeline/pipeline.h"
#include "libs/pipeline/rules_file.h"
#include "services/personalizer/customer_api.h"
#include "services/personalizer/decision_line.h"
#include "services/personalizer/http_server.h"
#include "services/personalizer/metrics.h"

ABSL_FLAG(std::string, config, "", "Service config file (YAML).");
ABSL_FLAG(std::string, bootstrap_servers, "",
          "Kafka bootstrap servers (overrides the config file).");
ABSL_FLAG(std::string, bootstrap_file, "",
          "File holding a line bootstrap.servers=... (as written by "
          "devbroker); waited for up to 30 s.");
ABSL_FLAG(std::string, state_dir, "", "RocksDB state directory (overrides).");
ABSL_FLAG(std::string, group_id, "", "Consumer group (overrides).");
ABSL_FLAG(std::string, group_instance_id, "",
          "Static group membership id (overrides).");
ABSL_FLAG(std::string, rules, "", "Rules file (overrides rules_file).");
ABSL_FLAG(std::string, http_address, "",
          "host:port for /metrics /healthz /readyz, or \"off\" (overrides).");
ABSL_FLAG(std::string, processing_guarantee, "",
          "at_least_once or exactly_once (overrides the config file).");
ABSL_FLAG(std::string, time_source, "",
          "wall (default) or event: what moves stream time and fires timers. "
          "event ignores the wall clock (replays, tests, the ops tool); wall "
          "also lets the wall clock move a task whose inputs are all caught "
          "up (overrides the config file).");
ABSL_FLAG(int, max_batch_events, 0, "Events per batch (overrides).");
ABSL_FLAG(int, worker_threads, -1,
          "Threads that process partitions; 0 = the number of cores "
          "(overrides worker_threads).");
ABSL_FLAG(int64_t, max_task_idle_ms, -2,
          "How long a task waits for an empty input that is not known to be "
          "caught up, ms; 0 never waits, -1 waits for ever (overrides).");
ABSL_FLAG(bool, print_decisions, false, "Print each decision as a line.");
ABSL_FLAG(int, print_decisions_per_kind_per_s, 0,
          "With --print_decisions: at most this many lines per decision kind "
          "per second (0: all).");
ABSL_FLAG(absl::Duration, duration, absl::ZeroDuration(),
          "Stop after this long (0: run until SIGTERM).");
ABSL_FLAG(std::vector<std::string>, kafka_consumer_property, {},
          "Extra librdkafka properties for the group consumer, as "
          "key=value[,key=value...] (e.g. session.timeout.ms=6000); values "
          "cannot contain commas.");

namespace tailor {
namespace {

// The --kafka_consumer_property values, each checked by librdkafka (an
// unknown key or a bad value is refused here, before any broker is asked).
absl::StatusOr<kafka::Properties> ConsumerProperties() {
  kafka::Properties properties;
  for (const std::string& kv : absl::GetFlag(FLAGS_kafka_consumer_property)) {
    const size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "kafka_consumer_property: expected key=value, got \"", kv, "\""));
    }
    properties.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
  }
  if (absl::StatusOr<kafka::ConfPtr> conf = kafka::MakeConf(properties);
      !conf.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("kafka_consumer_property: ", conf.status().message()));
  }
  return properties;
}

// The config file, then the TAILOR_* environment, then the flags; defaults
// applied and everything validated before the bootstrap file is waited for.
absl::StatusOr<tailor::v1::ServiceConfig> LoadServiceConfig() {
  tailor::v1::ServiceConfig cfg;
  if (const std::string path = absl::GetFlag(FLAGS_config); !path.empty()) {
    TAILOR_RETURN_IF_ERROR(config::LoadYamlFileIntoProto(path, &cfg));
  }
  TAILOR_RETURN_IF_ERROR(
      config::ApplyServiceEnvironment(config::ProcessEnvironment(), &cfg));
  if (auto v = absl::GetFlag(FLAGS_bootstrap_servers); !v.empty()) {
    cfg.set_bootstrap_servers(v);
  }
  if (auto v = absl::GetFlag(FLAGS_state_dir); !v.empty()) cfg.set_state_dir(v);
  if (auto v = absl::GetFlag(FLAGS_group_id); !v.empty()) cfg.set_group_id(v);
  if (auto v = absl::GetFlag(FLAGS_group_instance_id); !v.empty()) {
    cfg.set_group_instance_id(v);
  }
  if (auto v = absl::GetFlag(FLAGS_rules); !v.empty()) cfg.set_rules_file(v);
  if (auto v = absl::GetFlag(FLAGS_http_address); !v.empty()) {
    cfg.set_http_address(v);
  }
  if (absl::GetFlag(FLAGS_print_decisions)) cfg.set_print_decisions(true);
  if (auto v = absl::GetFlag(FLAGS_worker_threads); v != -1) {
    cfg.set_worker_threads(v);
  }
  if (auto v = absl::GetFlag(FLAGS_max_batch_events); v != 0) {
    cfg.set_max_batch_events(v);
  }
  if (auto v = absl::GetFlag(FLAGS_max_task_idle_ms); v != -2) {
    cfg.set_max_task_idle_ms(v);
  }
  if (auto v = absl::GetFlag(FLAGS_time_source); !v.empty()) {
    tailor::v1::TimeSource source;
    if (!tailor::v1::TimeSource_Parse(
            absl::StrCat("TIME_SOURCE_", absl::AsciiStrToUpper(v)), &source) ||
        source == tailor::v1::TIME_SOURCE_UNSPECIFIED) {
      return absl::InvalidArgumentError(
          absl::StrCat("time_source: expected wall or event, got \"", v, "\""));
    }
    cfg.set_time_source(source);
  }
  if (auto v = absl::GetFlag(FLAGS_processing_guarantee); !v.empty()) {
    tailor::v1::ProcessingGuarantee guarantee;
    if (!tailor::v1::ProcessingGuarantee_Parse(
            absl::StrCat("PROCESSING_GUARANTEE_", absl::AsciiStrToUpper(v)),
            &guarantee)) {
      return absl::InvalidArgumentError(
          absl::StrCat("processing_guarantee: expected at_least_once or "
                       "exactly_once, got \"",
                       v, "\""));
    }
    cfg.set_processing_guarantee(guarantee);
  }
  const std::string bootstrap_file = absl::GetFlag(FLAGS_bootstrap_file);
  if (!bootstrap_file.empty() && cfg.bootstrap_servers().empty()) {
    // Validated with a stand-in; the file is read below.
    cfg.set_bootstrap_servers("from-bootstrap-file:0");
  }
  config::ApplyServiceDefaults(&cfg);
  TAILOR_RETURN_IF_ERROR(config::ValidateServiceConfig(cfg));
  if (!bootstrap_file.empty()) {
    TAILOR_ASSIGN_OR_RETURN(std::string servers,
                            config::ReadBootstrapFile(bootstrap_file));
    cfg.set_bootstrap_servers(servers);
  }
  return cfg;
}

// `sent_by_kind`: SEND decisions by tailor::v1::DecisionKind;
// `suppressed_by`: suppressed decisions by the guard that stopped them.
void PrintSummary(const pipeline::ProcessorStats& s, absl::Duration elapsed,
                  const std::array<int64_t, 5>& sent_by_kind,
                  const std::map<std::string, int64_t>& suppressed_by) {
  const double seconds = std::max(absl::ToDoubleSeconds(elapsed), 1e-3);
  const auto kind = [&](tailor::v1::DecisionKind k) {
    return s.decisions_by_kind[k];
  };
  std::printf(
      "summary: events=%lld dead_letters=%lld new_profiles=%lld "
      "decisions: cart_reminder=%lld push=%lld coupon=%lld agent=%lld "
      "(sent=%lld held_out=%lld suppressed=%lld) timers_fired=%lld "
      "elapsed_s=%.1f events_per_s=%.0f\n",
      static_cast<long long>(s.events), static_cast<long long>(s.dead_letters),
      static_cast<long long>(s.profiles_created),
      static_cast<long long>(kind(tailor::v1::DECISION_KIND_CART_REMINDER)),
      static_cast<long long>(kind(tailor::v1::DECISION_KIND_PUSH)),
      static_cast<long long>(kind(tailor::v1::DECISION_KIND_COUPON)),
      static_cast<long long>(kind(tailor::v1::DECISION_KIND_AGENT_ESCALATION)),
      static_cast<long long>(
          s.decisions_by_action[tailor::v1::DECISION_ACTION_SEND]),
      static_cast<long long>(
          s.decisions_by_action[tailor::v1::DECISION_ACTION_HOLD_OUT]),
      static_cast<long long>(
          s.decisions_by_action[tailor::v1::DECISION_ACTION_SUPPRESSED]),
      static_cast<long long>(s.timers_fired), seconds,
      static_cast<double>(s.events) / seconds);
  // What went out, and why the rest did not: held out (the control group of
  // a campaign) or suppressed by a guard.
  std::printf(
      "sent: cart_reminder=%lld push=%lld coupon=%lld agent=%lld "
      "(not sent: held_out=%lld suppressed=%lld)\n",
      static_cast<long long>(
          sent_by_kind[tailor::v1::DECISION_KIND_CART_REMINDER]),
      static_cast<long long>(sent_by_kind[tailor::v1::DECISION_KIND_PUSH]),
      static_cast<long long>(sent_by_kind[tailor::v1::DECISION_KIND_COUPON]),
      static_cast<long long>(
          sent_by_kind[tailor::v1::DECISION_KIND_AGENT_ESCALATION]),
      static_cast<long long>(
          s.decisions_by_action[tailor::v1::DECISION_ACTION_HOLD_OUT]),
      static_cast<long long>(
          s.decisions_by_action[tailor::v1::DECISION_ACTION_SUPPRESSED]));
  std::string guards;
  for (const auto& [guard, n] : suppressed_by) {
    absl::StrAppend(&guards, " ", guard, "=", n);
  }
  std::printf("suppressed by guard:%s\n",
              guards.empty() ? " none" : guards.c_str());
  // Outcomes attributed to decisions (tailor.outcomes).
  std::printf(
      "outcomes: opens=%lld redemptions=%lld conversions=%lld\n",
      static_cast<long long>(s.outcomes_by_kind[tailor::v1::OUTCOME_KIND_OPEN]),
      static_cast<long long>(
          s.outcomes_by_kind[tailor::v1::OUTCOME_KIND_REDEMPTION]),
      static_cast<long long>(
          s.outcomes_by_kind[tailor::v1::OUTCOME_KIND_CONVERSION]));
  std::fflush(stdout);
}

int Main() {
  // Signals are taken by a dedicated thread; block them everywhere else
  // before any other thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  absl::StatusOr<kafka::Properties> consumer_properties = ConsumerProperties();
  if (!consumer_properties.ok()) {
    spdlog::error("refusing to start: {}",
                  consumer_properties.status().message());
    return 2;
  }
  absl::StatusOr<tailor::v1::ServiceConfig> cfg = LoadServiceConfig();
  if (!cfg.ok()) {
    spdlog::error("refusing to start: {}", cfg.status().message());
    return 2;
  }
  // Checked (and secret files read) before anything waits for a broker.
  if (absl::StatusOr<kafka::Properties> client =
          pipeline::KafkaClientProperties(*cfg);
      !client.ok()) {
    spdlog::error("refusing to start: {}", client.status().message());
    return 2;
  }
  if (absl::StatusOr<std::string> salt = pipeline::AuditSalt(*cfg);
      !salt.ok()) {
    spdlog::error("refusing to start: {}", salt.status().message());
    return 2;
  }
  auto rules = pipeline::LoadRules(cfg->rules_file());
  if (!rules.ok()) {
    spdlog::error("refusing to start: rules: {}", rules.status().message());
    return 2;
  }
  spdlog::info(
      "rules {} loaded from {}", rules->fingerprint,
      cfg->rules_file().empty() ? "the built-in defaults" : cfg->rules_file());

  PersonalizerMetrics metrics;
  metrics.SetInputTopics(cfg->topics());
  metrics.SetMeasuredCampaigns(rules->engine->rules());
  pipeline::PipelineOptions options;
  options.config = *cfg;
  options.consumer_properties = *std::move(consumer_properties);
  DecisionPrinter printer(absl::GetFlag(FLAGS_print_decisions_per_kind_per_s));
  const bool print = cfg->print_decisions();
  const bool wall_time = cfg->time_source() == tailor::v1::TIME_SOURCE_WALL;
  std::map<std::string, int64_t> suppressed_by;  // pipeline thread
  std::array<int64_t, 5> sent_by_kind{};         // pipeline thread
  options.on_decision = [&printer, &metrics, &suppressed_by, &sent_by_kind,
                         print, wall_time](const tailor::v1::Decision& d) {
    if (print) printer.Print(d);
    if (d.action() == tailor::v1::DECISION_ACTION_SUPPRESSED) {
      ++suppressed_by[d.suppression()];
    }
    if (d.action() == tailor::v1::DECISION_ACTION_SEND) {
      ++sent_by_kind[d.kind() % sent_by_kind.size()];
    }
    std::optional<absl::Duration> latency;
    if (wall_time)
      latency = absl::Now() - absl::FromUnixMillis(d.created_at_ms());
    metrics.ObserveDecision(d, latency);
  };
  options.on_outcome = [&metrics](const tailor::v1::Outcome& o) {
    metrics.ObserveOutcome(o);
  };
  options.observer.batch_processed = [&metrics](size_t, absl::Duration took) {
    metrics.ObserveBatch(took);
  };
  options.observer.commit_durable = [&metrics](absl::Duration took) {
    metrics.ObserveCommit(took);
  };
  options.observer.dead_letter = [&metrics](const pipeline::OutputRecord& r) {
    metrics.ObserveDeadLetter(r);
  };
  auto pipeline = pipeline::Pipeline::Create(std::move(options), rules->engine);
  if (!pipeline.ok()) {
    spdlog::error("refusing to start: {}", pipeline.status().message());
    return 2;
  }
  pipeline::Pipeline& p = **pipeline;

  std::atomic<bool> stop{false};
  std::unique_ptr<HttpServer> http;
  if (const auto address = config::HttpListenAddress(*cfg); address) {
    const int64_t broker_unreachable_ms = cfg->broker_unreachable_ms();
    const auto readiness = [&p, &stop, broker_unreachable_ms]() -> Readiness {
      if (stop.load()) return {false, "shutting down"};
      if (const absl::Duration silent = p.broker_silent_for();
          broker_unreachable_ms > 0 &&
          silent >= absl::Milliseconds(broker_unreachable_ms)) {
        return {false, absl::StrCat("no Kafka broker has answered for ",
                                    absl::ToInt64Seconds(silent),
                                    " s (broker_unreachable_ms ",
                                    broker_unreachable_ms, ")")};
      }
      if (p.ready()) return {true, ""};
      if (p.assigned_partitions() == 0) {
        return {false,
                "no input partitions assigned (joining the consumer group, "
                "or restoring state from the changelog)"};
      }
      return {false,
              absl::StrCat("the last commit is not durable yet (a produce or "
                           "state write is being retried; ",
                           p.commit_failures(), " failed commit attempts)")};
    };
    const int64_t max_stall_ms = cfg->max_stall_ms();
    const auto liveness = [&p, max_stall_ms]() -> Readiness {
      const absl::Duration stalled = p.stalled_for();
      if (max_stall_ms <= 0 || stalled < absl::Milliseconds(max_stall_ms)) {
        return {true, ""};
      }
      return {false,
              absl::StrCat("no commit became durable for ",
                           absl::ToInt64Seconds(stalled), " s (max_stall_ms ",
                           max_stall_ms, "); ", p.commit_failures(),
                           " failed commit attempts")};
    };
    HttpServer::CustomerHandler customers;
    if (cfg->customer_api()) {
      customers = [&p](const std::string& rest, std::string* body) {
        return ServeCustomer(p, rest, body);
      };
    }
    auto server = HttpServer::Start(
        *address, metrics.registry(), readiness, liveness,
        [&p, &metrics] {
          metrics.SetReady(p.ready());
          metrics.SetHealth({.stalled = p.stalled_for(),
                             .undeliverable_outputs = p.undeliverable_outputs(),
                             .state_rebuilt = p.state_rebuilt(),
                             .broker_silent = p.broker_silent_for(),
                             .stale_offsets = p.stale_offsets(),
                             .outputs_not_resent = p.outputs_not_resent()});
          metrics.SetRestore(p.restore_progress());
          metrics.SetPurges(p.store().purges());
        },
        std::move(customers));
    if (!server.ok()) {
      spdlog::error("refusing to start: {}", server.status().message());
      return 2;
    }
    http = std::move(*server);
    spdlog::info("serving /metrics /healthz /readyz on port {}", http->port());
    if (cfg->customer_api()) {
      spdlog::info("serving /v1/customers/{{id}} (customer_api) on port {}",
                   http->port());
    }
  }

  std::string rules_fingerprint = rules->fingerprint;
  std::thread signal_thread([&] {
    for (;;) {
      int sig = 0;
      if (sigwait(&signals, &sig) != 0) continue;
      if (sig == SIGHUP) {
        auto reloaded = pipeline::LoadRules(cfg->rules_file());
        if (reloaded.ok()) {
          p.RequestReload(reloaded->engine);
          metrics.SetMeasuredCampaigns(reloaded->engine->rules());
          spdlog::info("SIGHUP: rules {} loaded from {} (were {})",
                       reloaded->fingerprint,
                       cfg->rules_file().empty() ? "the built-in defaults"
                                                 : cfg->rules_file(),
                       rules_fingerprint);
          rules_fingerprint = reloaded->fingerprint;
        } else {
          spdlog::error("SIGHUP: rules reload refused, keeping rules {}: {}",
                        rules_fingerprint, reloaded.status().message());
        }
        continue;
      }
      if (stop.exchange(true)) return;  // woken by main() at exit
      spdlog::info("signal {}: finishing the batch and stopping", sig);
      p.RequestStop();
      return;
    }
  });

  const absl::Duration duration = absl::GetFlag(FLAGS_duration);
  const absl::Time start = absl::Now();
  absl::Time last_metrics = start;
  absl::Status status;
  spdlog::info(
      "personalizer {} (git {}) started: group {} state {} worker threads {}",
      BuildVersion(), BuildGitRevision(), cfg->group_id(), cfg->state_dir(),
      p.workers().workers());
  while (!stop.load()) {
    status = p.RunOnce();
    if (!status.ok()) break;
    const absl::Time now = absl::Now();
    if (now - last_metrics > absl::Milliseconds(200)) {
      const pipeline::Workers& workers = p.workers();
      metrics.Update(p.stats(),
                     {.profiles = workers.cached_profiles(),
                      .bytes = workers.cached_profile_bytes(),
                      .limit_bytes = workers.options().profile_cache_bytes},
                     workers.pending_timers(), p.assigned_partitions(),
                     p.commit_failures());
      metrics.UpdateTimerWindow(workers.timer_window());
      metrics.UpdateCycleSplit(p.cycle_split().Read());
      last_metrics = now;
    }
    if (duration > absl::ZeroDuration() && now - start >= duration) break;
  }
  if (status.ok()) status = p.Shutdown();
  if (printer.hidden() > 0) {
    std::printf("(%lld more decision lines not shown)\n",
                static_cast<long long>(printer.hidden()));
  }
  PrintSummary(p.stats(), absl::Now() - start, sent_by_kind, suppressed_by);

  // Wake the signal thread if it is still waiting.
  if (!stop.exchange(true))
    pthread_kill(signal_thread.native_handle(), SIGTERM);
  signal_thread.join();
  if (!status.ok()) {
    spdlog::error("stopped on error: {}", status.ToString());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace tailor

int main(int argc, char** argv) {
  tailor::InitProgram(
      {.name = "personalizer",
       .usage =
           "personalizer --config=FILE [flags]\n\n"
           "tailor personalizer: Kafka events in, personalization decisions "
           "out.\nEvery config field can also be set by an environment "
           "variable TAILOR_<FIELD>\n(e.g. TAILOR_BOOTSTRAP_SERVERS, "
           "TAILOR_TOPICS_CLICKSTREAM); flags override the\nenvironment, "
           "which overrides the file. SIGTERM stops cleanly; SIGHUP reloads "
           "the\nrules file.",
       .flags_file = __FILE__},
      argc, argv);
  return tailor::Main();
}
