// File: restore_bench.cc
// Restore throughput: how fast an instance with an empty disk rebuilds its
// state from the changelog topic, in profiles/s.
//
// Setup (not timed): realistic CustomerProfile messages, made by folding
// ShopperSim events with profile::FoldEvent (an abandoned-cart timer is added
// to profiles holding a cart, as the processor would), are produced to the
// changelog topic of an embedded broker (kafka::MockCluster), spread over
// --partitions so that each partition stays well under the ~5 MB the broker
// keeps, plus one PartitionCheckpoint record per partition.
//
// Timed: ChangelogRestorer::Restore of every partition at once into a fresh
// ProfileStore (service defaults), with a reader configured like the
// pipeline's. Printed:
//
//   restore: profiles=N partitions=P seconds=S profiles_per_s=R cpu_s=C
//   restore: phases measured apart: read_s=... gather_s=... ingest_s=...
//            sum_s=...
//
// cpu_s is the CPU time of the whole process during the restore (every
// thread: the restore's, its ingester's, librdkafka's, RocksDB's, and the
// embedded broker's), a figure less sensitive than seconds to other load on
// the machine. The phases are measured apart, before the restore, the
// restore's way: reading every partition at once with the same reader
// settings (no store); gathering the profiles and the timers read from
// their pending_timers fields into chunks of --chunk_mb (store::BulkLoad);
// ingesting the chunks (sorting, writing the SST files, adding them). The
// restore overlaps reading and gathering with ingesting, so it takes less
// than their sum. --phases=false skips them (e.g. to profile the restore
// alone). At the end every profile and timer is checked (the timers indexed
// are exactly those the profiles hold, with the same bytes).
//
//   restore_bench [--profiles=200000] [--partitions=64] [--seed=1]
//                 [--chunk_mb=64]
#include <stdlib.h>
#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "libs/base/cli.h"
#include "libs/base/log.h"
#include "libs/base/stable_hash.h"
#include "libs/kafka/consumer.h"
#include "libs/kafka/mock_cluster.h"
#include "libs/kafka/producer.h"
#include "libs/pipeline/changelog.h"
#include "libs/pipeline/pending_timers.h"
#include "libs/pipeline/restore.h"
#include "libs/profile/fold.h"
#include "libs/profile/validate.h"
#include "libs/store/bulk_load.h"
#include "libs/store/profile_store.h"
#include "tailor/v1/profile.pb.h"
#include "tools/loadgen/shopper_sim.h"

ABSL_FLAG(int64_t, profiles, 200'000, "Profiles on the changelog.");
ABSL_FLAG(int, partitions, 64,
          "Changelog partitions (keep profiles * ~500 B / partitions well "
          "under 5 MB: the embedded broker keeps about that much).");
ABSL_FLAG(uint64_t, seed, 1, "ShopperSim seed.");
ABSL_FLAG(int64_t, events_per_profile, 8,
          "Events folded per wanted profile before distinct customers are "
          "cloned to reach --profiles.");
ABSL_FLAG(std::vector<std::string>, reader_properties, {},
          "Extra librdkafka properties of the changelog reader, "
          "key=value[,key=value...], to try settings the pipeline's restore "
          "reader does not have (default: exactly the pipeline's).");
ABSL_FLAG(int64_t, chunk_mb,
          tailor::pipeline::ChangelogRestorer::kDefaultChunkBytes >> 20,
          "Memory of records per chunk the restore ingests (MiB).");
ABSL_FLAG(bool, phases, true,
          "Also measure the phases of a restore apart, before it (false: "
          "the restore alone, e.g. to profile it).");

namespace tailor {
namespace {

constexpr char kTopic[] = "tailor.profiles.changelog";
constexpr int64_t kStartMs = 1768471200000;  // 2026-01-15 10:00 UTC
constexpr int64_t kReminderDelayMs = 60 * 60 * 1000;

[[noreturn]] void Die(const absl::Status& status, const char* what) {
  std::fprintf(stderr, "restore_bench: %s: %s\n", what,
               status.ToString().c_str());
  std::exit(1);
}

// User and system CPU time of the whole process (every thread, the
// embedded broker's included).
double ProcessCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) /
             1e6;
}

// Realistic profiles: fold simulated shoppers' events; customers with a cart
// get the abandoned-cart timer the processor would set.
std::vector<std::string> MakeProfiles(int64_t wanted, uint64_t seed,
                                      int64_t events_per_profile,
                                      std::vector<std::string>* ids) {
  loadgen::ShopperSimOptions sim_options;
  sim_options.customers = wanted;
  sim_options.seed = seed;
  loadgen::ShopperSim sim(sim_options);
  const tailor::v1::ProfileSpec spec =
      profile::WithDefaults(tailor::v1::ProfileSpec());
  absl::flat_hash_map<std::string, tailor::v1::CustomerProfile> folded;
  tailor::v1::Event event;
  const int64_t max_events = wanted * events_per_profile;
  for (int64_t i = 0; i < max_events; ++i) {
    event.Clear();
    sim.Next(kStartMs + i * 5, &event);
    tailor::v1::CustomerProfile& p = folded[event.customer_id()];
    if (profile::FoldEvent(event, spec, &p) == profile::FoldResult::kErased) {
      folded.erase(event.customer_id());
    }
  }
  std::vector<std::string> values;
  values.reserve(wanted);
  ids->reserve(wanted);
  std::vector<const tailor::v1::CustomerProfile*> distinct;
  for (const auto& [id, p] : folded) distinct.push_back(&p);
  std::sort(distinct.begin(), distinct.end(), [](const auto* a, const auto* b) {
    return a->customer_id() < b->customer_id();
  });
  tailor::v1::CustomerProfile copy;
  for (int64_t i = 0; i < wanted; ++i) {
    copy = *distinct[i % distinct.size()];
    if (i >= static_cast<int64_t>(distinct.size())) {
      copy.set_customer_id(absl::StrCat("x-", i));  // a clone
    }
    copy.clear_pending_timers();
    if (copy.cart().items_size() > 0) {
      tailor::v1::Timer* t = copy.add_pending_timers();
      t->set_customer_id(copy.customer_id());
      t->set_fire_at_ms(copy.cart().updated_at_ms() + kReminderDelayMs);
      t->set_kind(tailor::v1::TIMER_KIND_CART_REMINDER);
      t->set_timer_id("abandoned_cart/1");
      t->set_campaign("abandoned_cart");
      t->set_step(1);
      t->set_trigger_ref(copy.cart().version());
    }
    ids->push_back(copy.customer_id());
    values.push_back(copy.SerializeAsString());
  }
  return values;
}

int Main() {
  const int64_t n = absl::GetFlag(FLAGS_profiles);
  const int partitions = absl::GetFlag(FLAGS_partitions);
  if (n <= 0 || partitions <= 0) {
    std::fprintf(stderr, "restore_bench: --profiles and --partitions > 0\n");
    return 2;
  }

  std::vector<std::string> ids;
  absl::Time t0 = absl::Now();
  std::vector<std::string> values =
      MakeProfiles(n, absl::GetFlag(FLAGS_seed),
                   absl::GetFlag(FLAGS_events_per_profile), &ids);
  int64_t bytes = 0;
  int64_t with_timers = 0;
  for (const std::string& v : values) bytes += static_cast<int64_t>(v.size());
  for (const std::string& v : values) {
    tailor::v1::CustomerProfile p;
    p.ParseFromString(v);
    with_timers += p.pending_timers_size() > 0 ? 1 : 0;
  }
  std::printf(
      "setup: profiles=%lld avg_bytes=%.0f with_timer=%lld "
      "per_partition_mb=%.2f built_in_s=%.1f\n",
      static_cast<long long>(n), static_cast<double>(bytes) / n,
      static_cast<long long>(with_timers),
      static_cast<double>(bytes) / partitions / (1 << 20),
      absl::ToDoubleSeconds(absl::Now() - t0));

  auto cluster = kafka::MockCluster::Create(1);
  if (!cluster.ok()) Die(cluster.status(), "mock cluster");
  if (auto s = (*cluster)->CreateTopic(kTopic, partitions); !s.ok()) {
    Die(s, "create topic");
  }
  const std::string bootstrap = (*cluster)->bootstrap_servers();
  {
    t0 = absl::Now();
    // The pipeline's producer settings (lz4, idempotent) with bigger batches.
    auto producer =
        kafka::Producer::Create({{"bootstrap.servers", bootstrap},
                                 {"enable.idempotence", "true"},
                                 {"compression.type", "lz4"},
                                 {"linger.ms", "5"},
                                 {"batch.num.messages", "10000"},
                                 {"queue.buffering.max.messages", "1000000"},
                                 {"queue.buffering.max.kbytes", "1048576"}});
    if (!producer.ok()) Die(producer.status(), "producer");
    for (int64_t i = 0; i < n; ++i) {
      const int32_t partition = static_cast<int32_t>(i % partitions);
      if (auto s = (*producer)->Produce(kTopic, partition, ids[i], values[i]);
          !s.ok()) {
        Die(s, "produce");
      }
    }
    tailor::v1::PartitionCheckpoint checkpoint;
    for (const char* topic : {"clickstream", "orders", "privacy"}) {
      auto* pos = checkpoint.add_positions();
      pos->set_topic(topic);
      pos->set_next_offset(n / partitions);
    }
    const std::string cp = checkpoint.SerializeAsString();
    for (int32_t p = 0; p < partitions; ++p) {
      if (auto s =
              (*producer)->Produce(kTopic, p, pipeline::kCheckpointKey, cp);
          !s.ok()) {
        Die(s, "produce checkpoint");
      }
    }
    if (auto s = (*producer)->Flush(absl::Seconds(120)); !s.ok()) {
      Die(s, "flush");
    }
    std::printf("setup: produced %lld records in %.1f s\n",
                static_cast<long long>(n + partitions),
                absl::ToDoubleSeconds(absl::Now() - t0));
  }
  values.clear();
  values.shrink_to_fit();

  // The settings of the pipeline's restore reader (libs/pipeline/pipeline.cc).
  kafka::Properties reader_props = {{"bootstrap.servers", bootstrap},
                                    {"group.id", "restore-bench"},
                                    {"isolation.level", "read_committed"},
                                    {"fetch.max.bytes", "52428800"},
                                    {"fetch.wait.max.ms", "5"}};
  for (const std::string& kv : absl::GetFlag(FLAGS_reader_properties)) {
    const size_t eq = kv.find('=');
    if (eq == std::string::npos) {
      std::fprintf(stderr, "restore_bench: --reader_properties: %s\n",
                   kv.c_str());
      return 2;
    }
    reader_props.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
  }

  // The phases of a restore, each measured on its own, in the restore's
  // way: reading every partition at once (the same reader settings, no
  // store), then gathering profiles and timers into chunks and ingesting
  // them.
  std::vector<std::vector<std::pair<std::string, std::string>>> changelog(
      partitions);
  double read_s = 0;
  if (absl::GetFlag(FLAGS_phases)) {
    auto reader = kafka::Consumer::Create(reader_props, nullptr);
    if (!reader.ok()) Die(reader.status(), "reader");
    std::vector<kafka::TopicPartition> assignment;
    std::vector<int64_t> ends;
    t0 = absl::Now();
    for (int32_t p = 0; p < partitions; ++p) {
      auto marks = (*reader)->QueryWatermarks(kTopic, p, absl::Seconds(10));
      if (!marks.ok()) Die(marks.status(), "watermarks");
      assignment.push_back({kTopic, p, marks->first});
      ends.push_back(marks->second);
    }
    if (auto s = (*reader)->Assign(assignment); !s.ok()) Die(s, "assign");
    std::vector<kafka::Record> records;
    int64_t read = 0;
    for (int32_t at_end = 0; at_end < partitions;) {
      if (auto s =
              (*reader)->PollBatch(20000, absl::Milliseconds(200), &records);
          !s.ok()) {
        Die(s, "poll");
      }
      read += static_cast<int64_t>(records.size());
      for (const kafka::Record& r : records) {
        changelog[r.partition()].emplace_back(std::string(r.key()),
                                              std::string(r.value()));
      }
      at_end = 0;
      for (int32_t p = 0; p < partitions; ++p) {
        auto next = (*reader)->Position(kTopic, p);
        if (!next.ok()) Die(next.status(), "position");
        at_end += *next >= ends[p] ? 1 : 0;
      }
    }
    records.clear();
    if (auto s = (*reader)->Assign({}); !s.ok()) Die(s, "unassign");
    read_s = absl::ToDoubleSeconds(absl::Now() - t0);
    if (read != n + partitions) {
      std::fprintf(stderr, "restore_bench: read %lld records, expected %lld\n",
                   static_cast<long long>(read),
                   static_cast<long long>(n + partitions));
      return 1;
    }
  }

  char dir_template[] = "/tmp/tailor-restore-bench.XXXXXX";
  const std::string dir = mkdtemp(dir_template);
  store::StoreOptions store_options;  // service defaults
  const size_t chunk_bytes = static_cast<size_t>(absl::GetFlag(FLAGS_chunk_mb))
                             << 20;
  double gather_s = 0;
  double ingest_s = 0;
  if (absl::GetFlag(FLAGS_phases)) {
    store_options.path = dir + "/phases";
    auto store = store::ProfileStore::Open(store_options);
    if (!store.ok()) Die(store.status(), "store");
    store::BulkLoad load;
    const auto ingest = [&] {
      const absl::Time start = absl::Now();
      if (auto s = (*store)->Ingest(&load); !s.ok()) Die(s, "ingest");
      ingest_s += absl::ToDoubleSeconds(absl::Now() - start);
    };
    t0 = absl::Now();
    for (int32_t p = 0; p < partitions; ++p) {
      for (const auto& [key, value] : changelog[p]) {
        if (key == pipeline::kCheckpointKey) continue;
        load.PutProfile(p, key, value);
        pipeline::ForEachPendingTimer(
            value, [&](int64_t fire_at_ms, absl::string_view timer_id,
                       absl::string_view timer) {
              load.PutTimer(p, fire_at_ms, key, timer_id, timer);
            });
        if (load.ByteSize() >= chunk_bytes) ingest();
      }
    }
    ingest();
    gather_s = absl::ToDoubleSeconds(absl::Now() - t0) - ingest_s;
    if (auto s = (*store)->Close(); !s.ok()) Die(s, "close");
  }
  changelog.clear();

  // The restore itself, into a fresh store.
  int exit_code = 0;
  {
    store_options.path = dir + "/state";
    auto store = store::ProfileStore::Open(store_options);
    if (!store.ok()) Die(store.status(), "store");
    auto reader = kafka::Consumer::Create(reader_props, nullptr);
    if (!reader.ok()) Die(reader.status(), "reader");
    pipeline::ChangelogRestorer restorer(
        store->get(), reader->get(), kTopic,
        static_cast<size_t>(absl::GetFlag(FLAGS_chunk_mb)) << 20);

    std::vector<int32_t> all(partitions);
    for (int32_t p = 0; p < partitions; ++p) all[p] = p;
    const double cpu0 = ProcessCpuSeconds();
    t0 = absl::Now();
    auto result = restorer.Restore(all);
    const double seconds = absl::ToDoubleSeconds(absl::Now() - t0);
    const double cpu_s = ProcessCpuSeconds() - cpu0;
    if (!result.ok()) Die(result.status(), "restore");
    const int64_t restored_profiles = result->profiles;
    const int checkpoints = result->checkpoints;
    std::printf(
        "restore: profiles=%lld partitions=%d seconds=%.3f "
        "profiles_per_s=%.0f cpu_s=%.3f\n",
        static_cast<long long>(restored_profiles), partitions, seconds,
        restored_profiles / std::max(seconds, 1e-9), cpu_s);
    std::fflush(stdout);

    // What was restored: every profile and every timer, each timer indexed
    // under its customer with the bytes the profile holds (the sums of
    // their hashes match).
    int64_t stored = 0;
    int64_t timers = 0;
    int64_t indexed_timers = 0;
    uint64_t timers_digest = 0;
    uint64_t indexed_digest = 0;
    tailor::v1::CustomerProfile profile;
    for (int32_t p = 0; p < partitions; ++p) {
      auto s = (*store)->ForEachProfile(p, [&](absl::string_view id,
                                               absl::string_view value) {
        ++stored;
        profile.ParseFromArray(value.data(), static_cast<int>(value.size()));
        timers += profile.pending_timers_size();
        for (const tailor::v1::Timer& timer : profile.pending_timers()) {
          timers_digest +=
              StableHash64({id, timer.timer_id(), timer.SerializeAsString()}) +
              static_cast<uint64_t>(timer.fire_at_ms());
        }
        return true;
      });
      if (!s.ok()) Die(s, "scan");
      s = (*store)->ForEachTimer(
          p, [&](int64_t fire_at_ms, absl::string_view id,
                 absl::string_view timer_id, absl::string_view value) {
            ++indexed_timers;
            indexed_digest += StableHash64({id, timer_id, value}) +
                              static_cast<uint64_t>(fire_at_ms);
            return true;
          });
      if (!s.ok()) Die(s, "timers");
    }

    if (absl::GetFlag(FLAGS_phases)) {
      std::printf(
          "restore: phases measured apart: read_s=%.3f gather_s=%.3f "
          "ingest_s=%.3f sum_s=%.3f\n",
          read_s, gather_s, ingest_s, read_s + gather_s + ingest_s);
    }
    std::printf(
        "restore: stored=%lld timers=%lld indexed_timers=%lld "
        "checkpoints=%d\n",
        static_cast<long long>(stored), static_cast<long long>(timers),
        static_cast<long long>(indexed_timers), checkpoints);
    if (restored_profiles != n || stored != n || checkpoints != partitions ||
        indexed_timers != timers || indexed_digest != timers_digest) {
      std::fprintf(stderr, "restore_bench: the restored state is incomplete\n");
      exit_code = 1;
    }
    reader->reset();
    if (auto s = (*store)->Close(); !s.ok()) Die(s, "close");
  }
  std::filesystem::remove_all(dir);
  return exit_code;
}

}  // namespace
}  // namespace tailor

int main(int argc, char** argv) {
  tailor::InitProgram(
      {.name = "restore_bench",
       .usage = "restore_bench [flags]\n\n"
                "restore_bench: changelog restore throughput in profiles/s.",
       .flags_file = __FILE__,
       .default_log_level = "warn"},
      argc, argv);
  return tailor::Main();
}
