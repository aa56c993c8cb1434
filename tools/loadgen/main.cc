// loadgen: produces synthetic shopper events (ShopperSim) to the tailor input
// topics at a given rate, keyed by customer_id. Every message carries a
// `tailor-sent-ns` header (CLOCK_REALTIME nanoseconds, decimal) for
// end-to-end latency measurement. With --respond it also plays customers who
// respond to tailor's decisions (Responder): it reads the SEND decisions of
// the delivery topics and the HOLD_OUT ones of the decisions log and
// produces the opens, orders and redemptions they cause, each when the shop
// clock reaches its event time. Prints one summary line on exit.
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <queue>
#include <string>
#include <thread>

#include "absl/container/flat_hash_set.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "libs/base/cli.h"
#include "libs/base/log.h"
#include "libs/kafka/consumer.h"
#include "libs/kafka/producer.h"
#include "tools/loadgen/responder.h"
#include "tools/loadgen/shopper_sim.h"

ABSL_FLAG(std::string, bootstrap_servers, "", "Kafka bootstrap servers.");
ABSL_FLAG(std::string, bootstrap_file, "",
          "File holding 'bootstrap.servers=...' (as written by devbroker); "
          "waited for up to 30 s. Used when --bootstrap_servers is empty.");
ABSL_FLAG(double, rate, 0, "Events per second; 0 = as fast as possible.");
ABSL_FLAG(int64_t, count, 0, "Events to produce; 0 = until --duration/signal.");
ABSL_FLAG(absl::Duration, duration, absl::ZeroDuration(),
          "How long to run; 0 = until --count/signal.");
ABSL_FLAG(int64_t, customers, 1'000'000, "Customer population.");
ABSL_FLAG(uint64_t, seed, 1, "Simulation seed.");
ABSL_FLAG(int32_t, max_active_sessions, 20'000,
          "Concurrent shopping sessions simulated.");
ABSL_FLAG(double, malformed_percent, 0, "Percent of malformed messages.");
ABSL_FLAG(double, erasure_share, 0.0002,
          "Chance, in [0, 1], that a returning customer's session starts with "
          "an erasure request (0: no erasures).");
ABSL_FLAG(double, time_scale, 1,
          "Event time advances this many times faster than the wall clock.");
ABSL_FLAG(int64_t, start_ms, 0,
          "Event time of the first event (epoch ms); 0 = now.");
ABSL_FLAG(std::string, clickstream_topic, "clickstream", "Clickstream topic.");
ABSL_FLAG(std::string, orders_topic, "orders", "Orders topic.");
ABSL_FLAG(std::string, privacy_topic, "privacy", "Privacy topic.");
ABSL_FLAG(int, linger_ms, 5, "Producer linger.ms.");
ABSL_FLAG(bool, shoppers, true,
          "Produce synthetic shoppers; false: only the responses of "
          "--respond (until --duration or a signal).");
ABSL_FLAG(std::string, respond, "",
          "Customers respond to decisions, per campaign: "
          "\"abandoned_cart:open=0.3,treated=0.08,base=0.05;*:treated=0.02\" "
          "(open: a sent push or reminder is opened; treated: a customer who "
          "got a SEND orders, with its coupon if any; base: a held-out "
          "customer orders; *: every other campaign). Empty: no responses.");
ABSL_FLAG(absl::Duration, respond_open_after, absl::Minutes(10),
          "--respond: shop time from a decision to the open of its push.");
ABSL_FLAG(absl::Duration, respond_order_after, absl::Minutes(90),
          "--respond: shop time from a decision to the order it causes.");
ABSL_FLAG(std::string, delivery_topics,
          "decisions.coupons,decisions.push,decisions.cart-reminders,"
          "decisions.agent-escalations",
          "--respond: the topics of the SEND decisions.");
ABSL_FLAG(std::string, decisions_log_topic, "tailor.decisions.log",
          "--respond: the topic of every decision (its HOLD_OUT ones are "
          "read).");

namespace {

constexpr absl::Duration kBootstrapFileWait = absl::Seconds(30);
constexpr char kSentHeader[] = "tailor-sent-ns";

// A response waiting for the shop clock to reach its event time.
struct Pending {
  int64_t event_ms;
  uint64_t seq;  // Keeps responses of equal time in the order made.
  tailor::loadgen::Response response;
  bool operator>(const Pending& o) const {
    return event_ms != o.event_ms ? event_ms > o.event_ms : seq > o.seq;
  }
};

std::string ReadBootstrapFile(const std::string& path) {
  const absl::Time deadline = absl::Now() + kBootstrapFileWait;
  while (absl::Now() < deadline) {
    std::ifstream in(path);
    std::string line;
    if (in && std::getline(in, line) && !line.empty()) {
      absl::string_view v = line;
      absl::ConsumePrefix(&v, "bootstrap.servers=");
      return std::string(absl::StripAsciiWhitespace(v));
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  return "";
}

int64_t RealtimeNanos() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace

int main(int argc, char** argv) {
  tailor::InitProgram(
      {.name = "loadgen",
       .usage = "loadgen --bootstrap_servers=HOST:PORT [--rate=N] "
                "[--count=N | --duration=D] [flags]\n\n"
                "Produces synthetic shopper events to tailor's input topics "
                "and prints a summary line on exit.",
       .flags_file = __FILE__},
      argc, argv);

  // Stop signals are taken by a sigwait thread; block them before any other
  // thread (librdkafka's) starts so that those inherit the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::atomic<bool> stop{false};
  std::thread signal_thread([&stop, stop_signals] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    stop.store(true);
  });
  auto finish_signal_thread = [&] {
    pthread_kill(signal_thread.native_handle(), SIGTERM);  // Wakes sigwait.
    signal_thread.join();
  };

  std::string bootstrap = absl::GetFlag(FLAGS_bootstrap_servers);
  if (bootstrap.empty() && !absl::GetFlag(FLAGS_bootstrap_file).empty()) {
    bootstrap = ReadBootstrapFile(absl::GetFlag(FLAGS_bootstrap_file));
  }
  if (bootstrap.empty()) {
    spdlog::error(
        "no --bootstrap_servers, and no readable "
        "--bootstrap_file within 30 s");
    finish_signal_thread();
    return 2;
  }

  auto producer = tailor::kafka::Producer::Create(
      {{"bootstrap.servers", bootstrap},
       // The input contract: keys placed as Java's producer places them.
       {"partitioner", "murmur2_random"},
       {"linger.ms", absl::StrCat(absl::GetFlag(FLAGS_linger_ms))},
       {"batch.num.messages", "10000"},
       {"queue.buffering.max.messages", "1000000"},
       {"queue.buffering.max.kbytes", "1048576"}});
  if (!producer.ok()) {
    spdlog::error("{}", producer.status().ToString());
    finish_signal_thread();
    return 2;
  }

  tailor::loadgen::ShopperSimOptions options;
  options.customers = absl::GetFlag(FLAGS_customers);
  options.seed = absl::GetFlag(FLAGS_seed);
  options.max_active_sessions = absl::GetFlag(FLAGS_max_active_sessions);
  options.malformed_share = absl::GetFlag(FLAGS_malformed_percent) / 100.0;
  options.erasure_share = absl::GetFlag(FLAGS_erasure_share);
  tailor::loadgen::ShopperSim sim(options);

  const std::string topics[] = {"", absl::GetFlag(FLAGS_clickstream_topic),
                                absl::GetFlag(FLAGS_orders_topic),
                                absl::GetFlag(FLAGS_privacy_topic)};
  const double rate = absl::GetFlag(FLAGS_rate);
  const int64_t count = absl::GetFlag(FLAGS_count);
  const absl::Duration duration = absl::GetFlag(FLAGS_duration);
  const double time_scale = absl::GetFlag(FLAGS_time_scale);
  const absl::Time start = absl::Now();
  const int64_t start_event_ms = absl::GetFlag(FLAGS_start_ms) != 0
                                     ? absl::GetFlag(FLAGS_start_ms)
                                     : absl::ToUnixMillis(start);

  // The closed loop: decisions in, responses out.
  const bool shoppers = absl::GetFlag(FLAGS_shoppers);
  std::unique_ptr<tailor::loadgen::Responder> responder;
  std::unique_ptr<tailor::kafka::Consumer> decisions;
  if (!absl::GetFlag(FLAGS_respond).empty()) {
    tailor::loadgen::ResponderOptions respond_options;
    respond_options.seed = options.seed;
    respond_options.currency = options.currency;
    respond_options.open_after_ms =
        absl::ToInt64Milliseconds(absl::GetFlag(FLAGS_respond_open_after));
    respond_options.order_after_ms =
        absl::ToInt64Milliseconds(absl::GetFlag(FLAGS_respond_order_after));
    absl::Status parsed = tailor::loadgen::ParseResponses(
        absl::GetFlag(FLAGS_respond), &respond_options);
    if (!parsed.ok()) {
      spdlog::error("{}", parsed.message());
      finish_signal_thread();
      return 2;
    }
    responder = std::make_unique<tailor::loadgen::Responder>(
        std::move(respond_options));
    auto consumer = tailor::kafka::Consumer::Create(
        {{"bootstrap.servers", bootstrap},
         {"group.id", absl::StrCat("loadgen-responder-", getpid())},
         {"auto.offset.reset", "earliest"},
         {"isolation.level", "read_committed"}},
        nullptr);
    std::vector<std::string> read_topics = absl::StrSplit(
        absl::GetFlag(FLAGS_delivery_topics), ',', absl::SkipEmpty());
    read_topics.push_back(absl::GetFlag(FLAGS_decisions_log_topic));
    absl::Status subscribed =
        consumer.ok() ? (*consumer)->Subscribe(read_topics) : consumer.status();
    if (!subscribed.ok()) {
      spdlog::error("{}", subscribed.ToString());
      finish_signal_thread();
      return 2;
    }
    decisions = std::move(*consumer);
  } else if (!shoppers) {
    spdlog::error("--shoppers=false needs --respond");
    finish_signal_thread();
    return 2;
  }
  std::priority_queue<Pending, std::vector<Pending>, std::greater<>> pending;
  absl::flat_hash_set<std::string> answered;  // decision ids
  std::vector<tailor::kafka::Record> read;
  std::vector<tailor::loadgen::Response> responses;
  tailor::v1::Decision decision;
  uint64_t pending_seq = 0;
  int64_t decisions_read = 0;
  int64_t responded = 0;
  const std::string& log_topic = absl::GetFlag(FLAGS_decisions_log_topic);
  // Reads the decisions that arrived and queues their responses.
  auto read_decisions = [&](absl::Duration timeout) -> absl::Status {
    if (decisions == nullptr) return absl::OkStatus();
    if (absl::Status s = decisions->PollBatch(1000, timeout, &read); !s.ok()) {
      return s;
    }
    for (const tailor::kafka::Record& r : read) {
      if (!decision.ParseFromArray(r.value().data(),
                                   static_cast<int>(r.value().size()))) {
        continue;
      }
      // SENDs come from the delivery topics, the held out from the log.
      const bool from_log = r.topic() == log_topic;
      if (from_log !=
          (decision.action() == tailor::v1::DECISION_ACTION_HOLD_OUT)) {
        continue;
      }
      ++decisions_read;
      if (!answered.insert(decision.decision_id()).second) continue;
      responses.clear();
      responder->Respond(decision, &responses);
      for (tailor::loadgen::Response& response : responses) {
        const int64_t at = response.event.event_time_ms();
        pending.push(Pending{at, pending_seq++, std::move(response)});
      }
    }
    return absl::OkStatus();
  };

  int64_t produced = 0;
  int64_t malformed = 0;
  int exit_code = 0;
  int64_t loops = 0;
  std::string response_bytes;
  while (!stop.load(std::memory_order_relaxed)) {
    if (count > 0 && produced >= count) break;
    const absl::Duration elapsed = absl::Now() - start;
    if (duration > absl::ZeroDuration() && elapsed >= duration) break;
    const int64_t event_ms =
        start_event_ms +
        static_cast<int64_t>(absl::ToDoubleMilliseconds(elapsed) * time_scale);
    if (decisions != nullptr && (!shoppers || (++loops & 255) == 0)) {
      if (absl::Status s = read_decisions(shoppers ? absl::ZeroDuration()
                                                   : absl::Milliseconds(100));
          !s.ok()) {
        spdlog::error("reading decisions: {}", s.ToString());
        exit_code = 1;
        break;
      }
    }
    // Responses whose time has come (all of them without shoppers: then
    // only decisions move the shop clock).
    while (!pending.empty() &&
           (!shoppers || pending.top().event_ms <= event_ms)) {
      const Pending& next = pending.top();
      next.response.event.SerializeToString(&response_bytes);
      const std::string sent_ns = absl::StrCat(RealtimeNanos());
      const tailor::kafka::Producer::Header headers[] = {
          {kSentHeader, sent_ns}};
      absl::Status s = (*producer)->Produce(
          topics[next.response.topic], RD_KAFKA_PARTITION_UA,
          next.response.event.customer_id(), response_bytes, headers);
      if (!s.ok()) {
        spdlog::error("{}", s.ToString());
        exit_code = 1;
        break;
      }
      ++responded;
      pending.pop();
    }
    if (exit_code != 0) break;
    if (!shoppers) {
      (*producer)->Poll();
      continue;
    }
    if (rate > 0 && static_cast<double>(produced) >=
                        rate * absl::ToDoubleSeconds(elapsed)) {
      (*producer)->Poll();
      absl::SleepFor(
          absl::Microseconds(500));  // Small slices: stays responsive.
      continue;
    }
    tailor::loadgen::SimMessage msg = sim.NextMessage(event_ms);
    const std::string sent_ns = absl::StrCat(RealtimeNanos());
    const tailor::kafka::Producer::Header headers[] = {{kSentHeader, sent_ns}};
    absl::Status s = (*producer)->Produce(
        topics[msg.topic], RD_KAFKA_PARTITION_UA, msg.key, msg.value, headers);
    if (!s.ok()) {
      spdlog::error("{}", s.ToString());
      exit_code = 1;
      break;
    }
    ++produced;
    if (msg.malformed) ++malformed;
    if ((produced & 1023) == 0) (*producer)->Poll();
  }

  absl::Status flushed = (*producer)->Flush(absl::Seconds(30));
  const double elapsed_s = absl::ToDoubleSeconds(absl::Now() - start);
  if (!flushed.ok()) {
    spdlog::error("{}", flushed.ToString());
    exit_code = 1;
  }
  spdlog::info("delivered={} failed={}", (*producer)->delivered(),
               (*producer)->failed());
  std::printf(
      "loadgen: produced=%lld malformed=%lld elapsed_s=%.3f rate=%.0f/s\n",
      static_cast<long long>(produced), static_cast<long long>(malformed),
      elapsed_s,
      elapsed_s > 0 ? static_cast<double>(produced) / elapsed_s : 0.0);
  if (responder != nullptr) {
    // Responses still waiting for the shop clock are not produced.
    std::printf("loadgen: decisions_read=%lld responses=%lld not_yet_due=%zu\n",
                static_cast<long long>(decisions_read),
                static_cast<long long>(responded), pending.size());
  }
  std::fflush(stdout);
  decisions.reset();
  producer->reset();
  finish_signal_thread();
  return exit_code;
}
