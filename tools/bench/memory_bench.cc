// File: memory_bench.cc
// Memory as customers grow: the resident set of the engine after it folded
// one cart event for each of --customers customers, with the service's
// cache bounds (profile cache entries, RocksDB block cache and write
// buffer). Run it once per population, each in its own process, and compare:
// a bounded engine stays about flat from 1M to 10M customers.
//
// One thread, no Kafka, driven like engine_bench: batches of
// InputRecords through pipeline::Processor (ProcessBatch -> PrepareCommit ->
// WriteState) over a ProfileStore in a fresh temporary directory (removed at
// exit). Customer i gets one CartAdd event (a product of 50,000, one time
// zone), so every customer ends up with a stored profile and a pending
// abandoned-cart timer (due 60 minutes after the cart change): event time
// advances 1 ms every 4 events, so 10M events span 42 minutes of shop time
// and no reminder fires. That is the worst case for anything held per
// customer or per pending timer.
//
// Printed (stdout):
//   memory: customers=N events=N seconds=S events_per_s=R rss_mb=M
//           peak_rss_mb=P rss_start_mb=B cached_profiles=C pending_timers=T
//           timer_window_entries=W timer_window_kb=K
//           dead_letters=D sst_mb=F
//
//   memory_bench [--customers=1000000] [--batch=5000] [--partitions=4]
//                [--profile_cache_entries=0 (service default)]
#include <stdlib.h>
#include <sys/resource.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "libs/base/cli.h"
#include "libs/base/log.h"
#include "libs/base/stable_hash.h"
#include "libs/config/service_config.h"
#include "libs/decide/engine.h"
#include "libs/decide/rules.h"
#include "libs/pipeline/processor.h"
#include "libs/pipeline/records.h"
#include "libs/store/profile_store.h"
#include "tailor/v1/config.pb.h"
#include "tailor/v1/events.pb.h"

ABSL_FLAG(int64_t, customers, 1'000'000, "Customers, one cart event each.");
ABSL_FLAG(int, batch, 5000, "Records per ProcessBatch.");
ABSL_FLAG(int, partitions, 4, "Input partitions (tasks).");
ABSL_FLAG(int64_t, profile_cache_entries, 0,
          "Profile cache entries; 0 = the service default.");

namespace tailor::bench {
namespace {

namespace v1 = ::tailor::v1;

// 2026-01-15 10:00 UTC.
constexpr int64_t kStartMs = 1768471200000;

// A field of /proc/self/status in MiB (VmRSS, VmHWM), or -1.
double ProcStatusMb(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) != 0) continue;
    int64_t kb = 0;
    std::string digits;
    for (char c : line) {
      if (c >= '0' && c <= '9') digits.push_back(c);
    }
    if (absl::SimpleAtoi(digits, &kb)) return static_cast<double>(kb) / 1024;
  }
  return -1;
}

int64_t DirBytes(const std::string& dir) {
  int64_t total = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir, ec)) {
    if (e.is_regular_file(ec)) total += static_cast<int64_t>(e.file_size(ec));
  }
  return total;
}

int Main() {
  const int64_t customers = absl::GetFlag(FLAGS_customers);
  const int batch = absl::GetFlag(FLAGS_batch);
  const int partitions = absl::GetFlag(FLAGS_partitions);
  if (customers <= 0 || batch <= 0 || partitions <= 0) {
    std::fprintf(stderr,
                 "memory_bench: --customers, --batch, --partitions > 0\n");
    return 2;
  }
  const double rss_start = ProcStatusMb("VmRSS");

  char dir_template[] = "/tmp/tailor-memory-bench.XXXXXX";
  if (mkdtemp(dir_template) == nullptr) {
    std::fprintf(stderr, "memory_bench: mkdtemp failed\n");
    return 1;
  }
  const std::string dir = dir_template;
  int exit_code = 0;
  {
    v1::ServiceConfig cfg;  // service defaults for everything
    if (absl::GetFlag(FLAGS_profile_cache_entries) > 0) {
      cfg.set_profile_cache_entries(
          static_cast<int32_t>(absl::GetFlag(FLAGS_profile_cache_entries)));
    }
    config::ApplyServiceDefaults(&cfg);
    store::StoreOptions store_options;
    store_options.path = dir + "/state";
    store_options.block_cache_mb = cfg.block_cache_mb();
    store_options.write_buffer_mb = cfg.write_buffer_mb();
    auto store = store::ProfileStore::Open(store_options);
    if (!store.ok()) {
      std::fprintf(stderr, "memory_bench: store: %s\n",
                   store.status().ToString().c_str());
      return 1;
    }
    auto engine = decide::Engine::Create(decide::DefaultRules());
    if (!engine.ok()) {
      std::fprintf(stderr, "memory_bench: engine: %s\n",
                   engine.status().ToString().c_str());
      return 1;
    }
    pipeline::ProcessorOptions options;
    options.topics = cfg.topics();
    options.limits.min_event_time_ms = cfg.min_event_time_ms();
    options.limits.max_future_skew_ms =
        cfg.max_event_skew_hours() * 3600 * 1000;
    options.profile_cache_entries =
        static_cast<size_t>(cfg.profile_cache_entries());
    auto processor = std::make_unique<pipeline::Processor>(
        store->get(), std::shared_ptr<const decide::Engine>(std::move(*engine)),
        options);

    // One batch of serialized events at a time, records viewing into it.
    std::vector<std::string> keys(batch), values(batch);
    std::vector<pipeline::InputRecord> records(batch);
    std::vector<int64_t> next_offset(partitions, 0);
    const std::string topic = cfg.topics().clickstream();
    v1::Event event;
    event.mutable_context()->set_time_zone("Europe/Warsaw");
    event.mutable_context()->set_device(v1::DEVICE_CLASS_MOBILE_WEB);
    v1::LineItem* item = event.mutable_cart_add()->mutable_item();
    item->set_quantity(1);
    item->mutable_unit_price()->set_currency("PLN");

    const absl::Time t0 = absl::Now();
    for (int64_t first = 0; first < customers; first += batch) {
      const int n =
          static_cast<int>(std::min<int64_t>(batch, customers - first));
      int64_t time_ms = 0;
      for (int j = 0; j < n; ++j) {
        const int64_t i = first + j;
        time_ms = kStartMs + i / 4;
        keys[j] = absl::StrFormat("m-%09d", i);
        event.set_customer_id(keys[j]);
        event.set_event_id(absl::StrCat("e-", i));
        event.set_event_time_ms(time_ms);
        const int64_t product = (i * 7919) % 50000;
        item->set_product_id(absl::StrCat("p-", product));
        item->set_category_id(absl::StrCat("cat-", product % 400));
        item->mutable_unit_price()->set_minor_units(1999 +
                                                    (product % 50) * 1000);
        event.SerializeToString(&values[j]);
        const int32_t partition = static_cast<int32_t>(
            StableHash64({keys[j]}) % static_cast<uint64_t>(partitions));
        pipeline::InputRecord& r = records[j];
        r.kind = v1::EVENT_TOPIC_CLICKSTREAM;
        r.topic = topic;
        r.partition = partition;
        r.offset = next_offset[partition]++;
        r.key = keys[j];
        r.value = values[j];
      }
      absl::Status s = processor->ProcessBatch(
          absl::MakeConstSpan(records.data(), n), time_ms + 1000,
          std::numeric_limits<int64_t>::max());
      if (s.ok()) {
        processor->PrepareCommit();
        s = processor->WriteState();
      }
      if (!s.ok()) {
        std::fprintf(stderr, "memory_bench: batch at %lld: %s\n",
                     static_cast<long long>(first), s.ToString().c_str());
        exit_code = 1;
        break;
      }
    }
    const double seconds = absl::ToDoubleSeconds(absl::Now() - t0);
    const pipeline::ProcessorStats& st = processor->stats();
    std::printf(
        "memory: customers=%lld events=%lld seconds=%.1f events_per_s=%.0f "
        "rss_mb=%.1f peak_rss_mb=%.1f rss_start_mb=%.1f cached_profiles=%zu "
        "pending_timers=%zu timer_window_entries=%zu timer_window_kb=%.0f "
        "profiles_created=%lld dead_letters=%lld "
        "sst_mb=%.0f profile_cache_entries=%d block_cache_mb=%lld "
        "write_buffer_mb=%lld\n",
        static_cast<long long>(customers),
        static_cast<long long>(st.events + st.dead_letters), seconds,
        static_cast<double>(st.events + st.dead_letters) /
            std::max(seconds, 1e-9),
        ProcStatusMb("VmRSS"), ProcStatusMb("VmHWM"), rss_start,
        processor->cached_profiles(), processor->pending_timers(),
        processor->timer_window().entries,
        static_cast<double>(processor->timer_window().bytes) / 1024,
        static_cast<long long>(st.profiles_created),
        static_cast<long long>(st.dead_letters),
        static_cast<double>(DirBytes(dir)) / (1 << 20),
        cfg.profile_cache_entries(),
        static_cast<long long>(cfg.block_cache_mb()),
        static_cast<long long>(cfg.write_buffer_mb()));
    std::fflush(stdout);
    if (st.dead_letters > 0) {
      std::fprintf(stderr, "memory_bench: %lld events were dead-lettered\n",
                   static_cast<long long>(st.dead_letters));
      exit_code = 1;
    }
    processor.reset();
    if (absl::Status s = (*store)->Close(); !s.ok()) {
      std::fprintf(stderr, "memory_bench: close: %s\n", s.ToString().c_str());
    }
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return exit_code;
}

}  // namespace
}  // namespace tailor::bench

int main(int argc, char** argv) {
  tailor::InitProgram(
      {.name = "memory_bench",
       .usage = "memory_bench [flags]\n\n"
                "memory_bench: the engine's resident set after folding one "
                "cart event "
                "per customer, with the service's cache bounds.",
       .flags_file = __FILE__,
       .default_log_level = "warn"},
      argc, argv);
  return tailor::bench::Main();
}
