// loadgen: produces synthetic shopper events (ShopperSim) to the tailor input
// topics at a given rate, keyed by customer_id. Every message carries a
// `tailor-sent-ns` header (CLOCK_REALTIME nanoseconds, decimal) for
// end-to-end latency measurement. Prints one summary line on exit.
#include <pthread.h>
#include <signal.h>
#include <time.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "libs/base/cli.h"
#include "libs/base/log.h"
#include "libs/kafka/producer.h"
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

namespace {

constexpr absl::Duration kBootstrapFileWait = absl::Seconds(30);
constexpr char kSentHeader[] = "tailor-sent-ns";

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

  int64_t produced = 0;
  int64_t malformed = 0;
  int exit_code = 0;
  while (!stop.load(std::memory_order_relaxed)) {
    if (count > 0 && produced >= count) break;
    const absl::Duration elapsed = absl::Now() - start;
    if (duration > absl::ZeroDuration() && elapsed >= duration) break;
    if (rate > 0 && static_cast<double>(produced) >=
                        rate * absl::ToDoubleSeconds(elapsed)) {
      (*producer)->Poll();
      absl::SleepFor(
          absl::Microseconds(500));  // Small slices: stays responsive.
      continue;
    }
    const int64_t event_ms =
        start_event_ms +
        static_cast<int64_t>(absl::ToDoubleMilliseconds(elapsed) * time_scale);
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
  std::fflush(stdout);
  producer->reset();
  finish_signal_thread();
  return exit_code;
}
