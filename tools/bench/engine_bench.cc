// File: engine_bench.cc
// The engine alone, no Kafka: decode + validate + fold + decide +
// encode + RocksDB-backed commit, driven through pipeline::Workers exactly
// as the Kafka shell drives it: ProcessBatch -> PrepareCommit ->
// TakePrepared -> the StateWriter thread writes the batch while the next one
// is processed (one commit in flight) -> MarkDurable.
//
// Setup (not timed): a ShopperSim pre-generates a pool of serialized events
// (InputRecords keyed by customer id, partition = StableHash64(key) mod 4,
// offsets increasing per topic partition; event time advances 5 ms per
// event, so a 2M pool spans 2.8 hours of shop time and cart reminders fire). A
// Processor over a ProfileStore in a fresh temporary directory with
// DefaultRules() then processes the whole pool once (warm-up: this creates the
// profiles). The timed loop feeds one batch of max_batch_events records per
// iteration and cycles through the pool; every pass is shifted forward in event
// time (the event_time_ms varint is patched in place, untimed) so stream time
// keeps moving and timers keep firing.
//
// Arguments: {profile_cache_entries, customers, worker threads}; the first
// configuration, cache 10000 for 1M customers on one worker, is the
// headline; the same with 2 workers (pipeline::Workers: the partitions
// spread over two threads) gives the speedup of threads. Configurations
// that differ only in workers share the store: the workers are rebuilt over
// it and warmed up on a quarter of the pool. Environment:
//   TAILOR_BENCH_POOL_EVENTS   pool size (default 2000000)
//   TAILOR_BENCH_BATCH         records per iteration (default 5000)
//   TAILOR_BENCH_PARTITIONS    input partitions (default 4)
//   TAILOR_BENCH_MS_PER_EVENT  shop time per event (default 5)
//   TAILOR_BENCH_SKEW          Zipf exponent of customer activity (default:
//                              ShopperSim's)
//   TAILOR_BENCH_NO_WARMUP     set to 1 to skip the warm-up pass
//
// Run: build/release/tools/bench/engine_bench [--benchmark_filter=...]
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <cstdint>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "libs/base/log.h"
#include "libs/base/stable_hash.h"
#include "libs/config/service_config.h"
#include "libs/decide/engine.h"
#include "libs/decide/rules.h"
#include "libs/pipeline/processor.h"
#include "libs/pipeline/records.h"
#include "libs/pipeline/state_writer.h"
#include "libs/pipeline/workers.h"
#include "libs/store/profile_store.h"
#include "tailor/v1/config.pb.h"
#include "tailor/v1/events.pb.h"
#include "tools/loadgen/shopper_sim.h"

namespace tailor::bench {
namespace {

namespace v1 = ::tailor::v1;

// 2026-01-15 10:00 UTC: the event time of the first pooled event.
constexpr int64_t kStartMs = 1768471200000;

int64_t EnvInt(const char* name, int64_t fallback) {
  const char* v = getenv(name);
  int64_t out = 0;
  return v != nullptr && absl::SimpleAtoi(v, &out) && out > 0 ? out : fallback;
}

double EnvDouble(const char* name, double fallback) {
  const char* v = getenv(name);
  double out = 0;
  return v != nullptr && absl::SimpleAtod(v, &out) && out > 0 ? out : fallback;
}

// Reads a varint at data[*pos]; false if truncated.
bool ReadVarint(absl::string_view data, size_t* pos, uint64_t* value) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64 && *pos < data.size(); shift += 7) {
    const uint8_t b = static_cast<uint8_t>(data[(*pos)++]);
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) {
      *value = v;
      return true;
    }
  }
  return false;
}

// Where the top-level varint field `field` of a serialized message starts
// and how many bytes it takes; {0, 0} if absent.
std::pair<size_t, size_t> FindVarintField(absl::string_view msg,
                                          uint32_t field) {
  size_t pos = 0;
  while (pos < msg.size()) {
    uint64_t tag = 0;
    if (!ReadVarint(msg, &pos, &tag)) break;
    const uint32_t number = static_cast<uint32_t>(tag >> 3);
    uint64_t v = 0;
    switch (tag & 7) {
      case 0: {
        const size_t start = pos;
        if (!ReadVarint(msg, &pos, &v)) return {0, 0};
        if (number == field) return {start, pos - start};
        break;
      }
      case 1:
        pos += 8;
        break;
      case 2:
        if (!ReadVarint(msg, &pos, &v)) return {0, 0};
        pos += v;
        break;
      case 5:
        pos += 4;
        break;
      default:
        return {0, 0};
    }
  }
  return {0, 0};
}

// Writes `value` as a varint of exactly `len` bytes (padded with
// continuation bytes, which every protobuf parser accepts).
void WritePaddedVarint(char* out, size_t len, uint64_t value) {
  for (size_t i = 0; i < len; ++i) {
    uint8_t b = value & 0x7f;
    value >>= 7;
    if (i + 1 < len) b |= 0x80;
    out[i] = static_cast<char>(b);
  }
}

// The pre-generated input: serialized events in one arena, records viewing
// into it. Offsets keep increasing from pass to pass.
struct Pool {
  int64_t customers = 0;
  int64_t distinct_customers = 0;  // in the pool: the working set
  int partitions = 0;
  std::string arena;  // keys and values back to back
  struct Entry {
    size_t key_at, key_len, value_at, value_len;
    size_t time_at, time_len;  // event_time_ms varint inside the value
    int64_t time_ms;           // event time in the first pass
    v1::EventTopic kind;
    int32_t partition;
  };
  std::vector<Entry> entries;
  std::vector<pipeline::InputRecord> records;  // views into arena
  int64_t span_ms = 0;                         // event time shift per pass
};

const std::string& TopicView(v1::EventTopic kind) {
  static const std::string* names[4] = {
      new std::string("unspecified"), new std::string("clickstream"),
      new std::string("orders"), new std::string("privacy")};
  return *names[static_cast<int>(kind) & 3];
}

std::unique_ptr<Pool> MakePool(int64_t customers, int64_t events,
                               int partitions) {
  const absl::Time t0 = absl::Now();
  auto pool = std::make_unique<Pool>();
  pool->customers = customers;
  pool->partitions = partitions;
  loadgen::ShopperSimOptions sim_options;
  sim_options.customers = customers;
  sim_options.skew = EnvDouble("TAILOR_BENCH_SKEW", sim_options.skew);
  loadgen::ShopperSim sim(sim_options);
  pool->entries.reserve(events);
  pool->arena.reserve(static_cast<size_t>(events) * 200);
  // Shop time per event: the first cart reminders (60 min) fire during
  // the warm-up pass and keep firing in the timed passes.
  const int64_t ms_per_event = EnvInt("TAILOR_BENCH_MS_PER_EVENT", 5);
  v1::Event event;
  std::string value;
  absl::flat_hash_set<std::string> distinct;
  for (int64_t i = 0; i < events; ++i) {
    const int64_t now_ms = kStartMs + i * ms_per_event;
    const v1::EventTopic kind = sim.Next(now_ms, &event);
    event.SerializeToString(&value);
    Pool::Entry e;
    e.kind = kind;
    e.partition = static_cast<int32_t>(StableHash64({event.customer_id()}) %
                                       static_cast<uint64_t>(partitions));
    e.key_at = pool->arena.size();
    e.key_len = event.customer_id().size();
    pool->arena.append(event.customer_id());
    distinct.insert(event.customer_id());
    e.value_at = pool->arena.size();
    e.value_len = value.size();
    pool->arena.append(value);
    const auto [at, len] = FindVarintField(value, 3);  // event_time_ms
    e.time_at = e.value_at + at;
    e.time_len = len;
    e.time_ms = event.event_time_ms();
    pool->entries.push_back(e);
  }
  pool->span_ms = events * ms_per_event + 60'000;
  pool->distinct_customers = static_cast<int64_t>(distinct.size());
  // Views are taken once the arena no longer moves.
  pool->records.resize(pool->entries.size());
  for (size_t i = 0; i < pool->entries.size(); ++i) {
    const Pool::Entry& e = pool->entries[i];
    pipeline::InputRecord& r = pool->records[i];
    r.kind = e.kind;
    r.topic = TopicView(e.kind);
    r.partition = e.partition;
    r.key = absl::string_view(pool->arena.data() + e.key_at, e.key_len);
    r.value = absl::string_view(pool->arena.data() + e.value_at, e.value_len);
  }
  spdlog::info(
      "pool: {} events of {} customers ({} distinct), {} MB, generated in {}",
      events, customers, pool->distinct_customers, pool->arena.size() >> 20,
      absl::FormatDuration(absl::Now() - t0));
  return pool;
}

// One benchmark configuration: the store, the processor and where in the
// pool the next batch starts. Created untimed on the first run of a
// configuration and kept for its further runs.
class Env {
 public:
  static std::unique_ptr<Env> Create(int64_t cache_entries, int64_t customers,
                                     int workers, std::shared_ptr<Pool> pool) {
    auto env = std::unique_ptr<Env>(new Env());
    env->cache_entries_ = cache_entries;
    env->customers_ = customers;
    env->pool_ = std::move(pool);
    env->batch_ = EnvInt("TAILOR_BENCH_BATCH", 5000);
    char dir[] = "/tmp/tailor-engine-bench.XXXXXX";
    if (mkdtemp(dir) == nullptr) return nullptr;
    env->dir_ = dir;

    v1::ServiceConfig cfg;  // service defaults for everything
    config::ApplyServiceDefaults(&cfg);
    store::StoreOptions store_options;
    store_options.path = env->dir_ + "/state";
    store_options.block_cache_mb = cfg.block_cache_mb();
    store_options.write_buffer_mb = cfg.write_buffer_mb();
    auto store = store::ProfileStore::Open(store_options);
    if (!store.ok()) {
      spdlog::error("store: {}", store.status().ToString());
      return nullptr;
    }
    env->store_ = std::move(*store);
    auto engine = decide::Engine::Create(decide::DefaultRules());
    if (!engine.ok()) {
      spdlog::error("engine: {}", engine.status().ToString());
      return nullptr;
    }
    env->engine_ = std::move(*engine);
    pipeline::ProcessorOptions& options = env->options_;
    options.topics = cfg.topics();
    options.limits.min_event_time_ms = cfg.min_event_time_ms();
    options.limits.max_future_skew_ms =
        cfg.max_event_skew_hours() * 3600 * 1000;
    options.profile_cache_entries = static_cast<size_t>(cache_entries);
    env->UseWorkers(workers);
    env->next_offset_.assign(4 * env->pool_->partitions, 0);
    return env;
  }

  ~Env() {
    if (writer_ != nullptr && !WaitForWrites().ok()) {
      spdlog::warn("a state write failed");
    }
    writer_.reset();
    processor_.reset();
    if (store_ != nullptr) {
      absl::Status s = store_->Close();
      if (!s.ok()) spdlog::warn("store close: {}", s.ToString());
      store_.reset();
    }
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // Processes with `workers` threads from now on: a new pipeline::Workers
  // over the same store (every batch so far is written).
  void UseWorkers(int workers) {
    if (processor_ != nullptr && processor_->workers() == workers) return;
    if (!WaitForWrites().ok()) spdlog::warn("a state write failed");
    processor_.reset();
    if (writer_ == nullptr) {
      writer_ = std::make_unique<pipeline::StateWriter>(store_.get());
    }
    processor_ = std::make_unique<pipeline::Workers>(store_.get(), engine_,
                                                     options_, workers);
  }

  const Pool& pool() const { return *pool_; }
  bool matches(int64_t cache_entries, int64_t customers) const {
    return cache_entries_ == cache_entries && customers_ == customers;
  }

  // Processes one pass over the pool, or `fraction` of one (not timed by
  // the caller).
  bool WarmUp(double fraction = 1.0) {
    const absl::Time t0 = absl::Now();
    const size_t batches = static_cast<size_t>(
        fraction * static_cast<double>(pool_->records.size() + batch_ - 1) /
        static_cast<double>(batch_));
    for (size_t i = 0; i < batches; ++i) {
      Prepare();
      if (!RunBatch()) return false;
    }
    const pipeline::ProcessorStats s = processor_->stats();
    const double seconds = absl::ToDoubleSeconds(absl::Now() - t0);
    spdlog::info(
        "warm-up: {} events in {:.1f} s ({:.0f}/s), {} profiles created, "
        "cache hits {:.1f}%",
        s.events + s.dead_letters, seconds,
        static_cast<double>(s.events + s.dead_letters) / seconds,
        s.profiles_created,
        100.0 * static_cast<double>(s.cache_hits) /
            static_cast<double>(
                std::max<int64_t>(1, s.cache_hits + s.cache_misses)));
    return true;
  }

  // Readies the next batch: offsets and (at a pass boundary) event times.
  // Not timed.
  void Prepare() {
    const size_t n = pool_->records.size();
    if (cursor_ >= n) {
      cursor_ = 0;
      ++pass_;
    }
    const size_t end = std::min(n, cursor_ + batch_);
    const int64_t shift = pass_ * pool_->span_ms;
    for (size_t i = cursor_; i < end; ++i) {
      const Pool::Entry& e = pool_->entries[i];
      pipeline::InputRecord& r = pool_->records[i];
      r.offset = next_offset_[e.partition * 4 + e.kind]++;
      if (e.time_len != 0 && pass_ > 0) {  // pass 0: bytes as generated
        WritePaddedVarint(pool_->arena.data() + e.time_at, e.time_len,
                          static_cast<uint64_t>(e.time_ms + shift));
      }
    }
    begin_ = cursor_;
    end_ = end;
    // Wall clock of the shop at this batch: just past its last event.
    wall_now_ms_ = pool_->entries[end - 1].time_ms + shift + 1000;
    cursor_ = end;
  }

  // The timed work: one batch through the processor and into RocksDB.
  bool RunBatch() {
    absl::Span<const pipeline::InputRecord> records(
        pool_->records.data() + begin_, end_ - begin_);
    const absl::Time t0 = absl::Now();
    absl::Status s = processor_->ProcessBatch(
        records, wall_now_ms_, std::numeric_limits<int64_t>::max());
    const absl::Time t1 = absl::Now();
    process_ += t1 - t0;
    if (s.ok()) {
      processor_->PrepareCommit();
      const absl::Time t2 = absl::Now();
      prepare_ += t2 - t1;
      // What the shell would produce for this batch (a few microseconds).
      for (const pipeline::OutputRecord& out : processor_->outputs()) {
        const size_t bytes = out.key.size() + out.value.size();
        if (out.kind == pipeline::OutputKind::kChangelog) {
          ++changelog_records_;
          changelog_bytes_ += static_cast<int64_t>(bytes);
        } else {
          output_bytes_ += static_cast<int64_t>(bytes);
        }
      }
      processor_->ClearOutputs();
      // The previous commit's write overlapped this batch; wait for it
      // before handing over this one (one commit in flight, as the
      // pipeline's state writer with a short commit interval).
      s = WaitForWrites();
      in_flight_.push_back(processor_->TakePrepared());
      writer_->Submit(in_flight_.back().seq, &in_flight_.back().batch);
    }
    if (!s.ok()) {
      spdlog::error("batch: {}", s.ToString());
      return false;
    }
    return true;
  }

  // Waits until every submitted commit is written and marks it durable.
  absl::Status WaitForWrites() {
    while (!in_flight_.empty()) {
      const absl::Time t0 = absl::Now();
      writer_->WaitFor(in_flight_.front().seq);
      const absl::Time t1 = absl::Now();
      write_ += t1 - t0;
      if (writer_->written() < in_flight_.front().seq) {
        return absl::InternalError("state write failed (see log)");
      }
      processor_->MarkDurable(in_flight_.front());
      durable_ += absl::Now() - t1;
      in_flight_.pop_front();
    }
    return absl::OkStatus();
  }

  size_t batch_records() const { return end_ - begin_; }
  const pipeline::Workers& processor() const { return *processor_; }
  int64_t pass() const { return pass_; }
  // Time spent so far in ProcessBatch, PrepareCommit, waiting for the
  // previous commit's write and marking it durable (evictions).
  absl::Duration process_time() const { return process_; }
  absl::Duration prepare_time() const { return prepare_; }
  absl::Duration write_time() const { return write_; }
  absl::Duration durable_time() const { return durable_; }
  // Changelog records and bytes, and other output bytes, prepared so far.
  int64_t changelog_records() const { return changelog_records_; }
  int64_t changelog_bytes() const { return changelog_bytes_; }
  int64_t output_bytes() const { return output_bytes_; }

 private:
  Env() = default;

  int64_t cache_entries_ = 0;
  int64_t customers_ = 0;
  size_t batch_ = 5000;
  std::string dir_;
  std::shared_ptr<Pool> pool_;
  std::unique_ptr<store::ProfileStore> store_;
  std::shared_ptr<const decide::Engine> engine_;
  pipeline::ProcessorOptions options_;
  std::unique_ptr<pipeline::Workers> processor_;
  std::unique_ptr<pipeline::StateWriter> writer_;
  std::deque<pipeline::Workers::PreparedCommit> in_flight_;
  std::vector<int64_t> next_offset_;  // [partition * 4 + kind]
  size_t cursor_ = 0;
  size_t begin_ = 0;
  size_t end_ = 0;
  int64_t pass_ = 0;
  int64_t wall_now_ms_ = 0;
  int64_t changelog_records_ = 0;
  int64_t changelog_bytes_ = 0;
  int64_t output_bytes_ = 0;
  absl::Duration process_, prepare_, write_, durable_;
};

std::shared_ptr<Pool>& CurrentPool() {
  static auto* pool = new std::shared_ptr<Pool>();
  return *pool;
}

std::unique_ptr<Env>& CurrentEnv() {
  static auto* env = new std::unique_ptr<Env>();
  return *env;
}

// The environment for these arguments, built (and warmed up) on first use.
Env* EnvFor(int64_t cache_entries, int64_t customers, int workers) {
  std::unique_ptr<Env>& env = CurrentEnv();
  if (env != nullptr && env->matches(cache_entries, customers)) {
    if (env->processor().workers() != workers) {
      env->UseWorkers(workers);
      if (!env->WarmUp(0.25)) return nullptr;
    }
    return env.get();
  }
  env.reset();  // removes the previous store before building the next one
  std::shared_ptr<Pool>& pool = CurrentPool();
  const int partitions = static_cast<int>(EnvInt("TAILOR_BENCH_PARTITIONS", 4));
  if (pool == nullptr || pool->customers != customers ||
      pool->partitions != partitions) {
    pool.reset();
    pool = MakePool(customers, EnvInt("TAILOR_BENCH_POOL_EVENTS", 2'000'000),
                    partitions);
  }
  env = Env::Create(cache_entries, customers, workers, pool);
  if (env == nullptr) return nullptr;
  if (EnvInt("TAILOR_BENCH_NO_WARMUP", 0) == 0 && !env->WarmUp()) {
    env.reset();
    return nullptr;
  }
  return env.get();
}

void BM_Engine(benchmark::State& state) {
  const int64_t cache_entries = state.range(0);
  const int64_t customers = state.range(1);
  const int workers = static_cast<int>(state.range(2));
  Env* env = EnvFor(cache_entries, customers, workers);
  if (env == nullptr) {
    state.SkipWithError("setup failed (see log)");
    return;
  }
  const pipeline::ProcessorStats before = env->processor().stats();
  const int64_t changelog0 = env->changelog_records();
  const int64_t changelog_bytes0 = env->changelog_bytes();
  const int64_t output_bytes0 = env->output_bytes();
  const absl::Duration process0 = env->process_time();
  const absl::Duration prepare0 = env->prepare_time();
  const absl::Duration write0 = env->write_time();
  const absl::Duration durable0 = env->durable_time();
  int64_t items = 0;
  for (auto _ : state) {
    state.PauseTiming();
    env->Prepare();
    state.ResumeTiming();
    if (!env->RunBatch()) {
      state.SkipWithError("batch failed (see log)");
      break;
    }
    items += static_cast<int64_t>(env->batch_records());
  }
  const pipeline::ProcessorStats after = env->processor().stats();
  state.SetItemsProcessed(items);
  const double hits = static_cast<double>(after.cache_hits - before.cache_hits);
  const double misses =
      static_cast<double>(after.cache_misses - before.cache_misses);
  int64_t decisions = 0;
  for (size_t k = 0; k < after.decisions_by_kind.size(); ++k) {
    decisions += after.decisions_by_kind[k] - before.decisions_by_kind[k];
  }
  state.counters["cache_hit_ratio"] =
      hits + misses > 0 ? hits / (hits + misses) : 0.0;
  state.counters["decisions_per_1k"] =
      items > 0
          ? 1000.0 * static_cast<double>(decisions) / static_cast<double>(items)
          : 0.0;
  state.counters["timers_per_1k"] =
      items > 0
          ? 1000.0 *
                static_cast<double>(after.timers_fired - before.timers_fired) /
                static_cast<double>(items)
          : 0.0;
  const double per_event = items > 0 ? 1.0 / static_cast<double>(items) : 0;
  state.counters["changelog_per_1k"] =
      1000.0 * per_event *
      static_cast<double>(env->changelog_records() - changelog0);
  state.counters["changelog_B_per_ev"] =
      per_event *
      static_cast<double>(env->changelog_bytes() - changelog_bytes0);
  state.counters["decision_B_per_ev"] =
      per_event * static_cast<double>(env->output_bytes() - output_bytes0);
  // Where a batch's time goes: processing (decode, fold, decide, timers),
  // preparing the commit (serializing profiles), waiting for the previous
  // commit's RocksDB write (on the state writer's thread) and marking it
  // durable (unpinning and evicting profiles).
  const double batches = static_cast<double>(
      std::max<int64_t>(1, static_cast<int64_t>(state.iterations())));
  state.counters["process_ms"] =
      absl::ToDoubleMilliseconds(env->process_time() - process0) / batches;
  state.counters["prepare_ms"] =
      absl::ToDoubleMilliseconds(env->prepare_time() - prepare0) / batches;
  state.counters["write_wait_ms"] =
      absl::ToDoubleMilliseconds(env->write_time() - write0) / batches;
  state.counters["durable_ms"] =
      absl::ToDoubleMilliseconds(env->durable_time() - durable0) / batches;
  state.counters["dlq"] =
      static_cast<double>(after.dead_letters - before.dead_letters);
  state.counters["working_set"] =
      static_cast<double>(env->pool().distinct_customers);
  state.counters["new_profiles"] =
      static_cast<double>(after.profiles_created - before.profiles_created);
}

// The first configuration is the headline (tools/bench/scorecard.sh): a
// profile cache smaller than the shoppers active at once (ShopperSim keeps up
// to 20,000 sessions in progress) and than the pool's working set (about
// 56,000 distinct customers in 2M events), so that about 6% of the lookups
// miss the cache and read RocksDB (hit ratio 0.94). The second is the same
// on two worker threads.
BENCHMARK(BM_Engine)
    ->ArgNames({"cache", "customers", "workers"})
    ->Args({10'000, 1'000'000, 1})
    ->Args({10'000, 1'000'000, 2})
    ->Args({200'000, 1'000'000, 1})
    ->Args({20'000, 1'000'000, 1})
    ->Args({200'000, 100'000, 1})
    ->Args({20'000, 100'000, 1})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond)
    ->MinTime(2.0);

}  // namespace
}  // namespace tailor::bench

int main(int argc, char** argv) {
  tailor::InitLogging("engine_bench", spdlog::level::info);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  tailor::bench::CurrentEnv().reset();  // removes the temporary store
  tailor::bench::CurrentPool().reset();
  return 0;
}
