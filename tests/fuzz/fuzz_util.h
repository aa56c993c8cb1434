// File: fuzz_util.h
// Shared parts of tailor's libFuzzer targets: the fixed wall clock, the
// framing of several input events in one fuzz input, and Shop, a stand-in
// for a partition task of libs/pipeline/processor.cc without Kafka or
// RocksDB (fold, decide, timers by stream time, the profile size bound).
// Single-threaded; each fuzz input makes its own Shop.
#ifndef TAILOR_TESTS_FUZZ_FUZZ_UTIL_H_
#define TAILOR_TESTS_FUZZ_FUZZ_UTIL_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "libs/decide/engine.h"
#include "tailor/v1/config.pb.h"
#include "tailor/v1/events.pb.h"
#include "tailor/v1/profile.pb.h"

namespace tailor::fuzz {

// The wall clock of every fuzz run: 2024-03-05T10:00:00Z.
inline constexpr int64_t kNowMs = 1'709'632'800'000;
// Events per fuzz input at most.
inline constexpr int kMaxEvents = 8;

// Prints `what` and aborts, so libFuzzer reports the input as a crash.
[[noreturn]] void Fail(absl::string_view what);

// One event of a fuzz input: the input topic it arrived on and its bytes.
struct Frame {
  tailor::v1::EventTopic topic = tailor::v1::EVENT_TOPIC_UNSPECIFIED;
  absl::string_view bytes;  // Points into the fuzz input.
};

// Splits a fuzz input into at most `max_frames` frames, each
// [topic byte][length, 2 bytes little-endian][length bytes]. The topic is
// the byte modulo 4 (EventTopic); a length past the end takes what is left.
std::vector<Frame> SplitFrames(const uint8_t* data, size_t size,
                               int max_frames);
// One frame as SplitFrames reads it (`bytes` at most 65535 long).
std::string EncodeFrame(tailor::v1::EventTopic topic, absl::string_view bytes);

// An event with the input topic it arrives on.
struct TopicEvent {
  tailor::v1::EventTopic topic = tailor::v1::EVENT_TOPIC_UNSPECIFIED;
  tailor::v1::Event event;
};

// Valid timelines of one customer in the hours before kNowMs, used for seed
// corpora and by rules_fuzz. Variant 0: consent, browsing, a cart left
// behind; 1: a first order with coupon, delivered, returned, a push opened,
// a coupon redeemed; 2: returns and a cancellation (dissatisfaction), then
// an erasure. Other variants wrap around.
inline constexpr int kTimelineVariants = 3;
std::vector<TopicEvent> Timeline(int variant, const std::string& customer_id);

// The engine of DefaultRules(), created once and never freed.
const decide::Engine& DefaultEngine();

// Customers' profiles, one partition's state and stream time, driven as the
// processor drives them: an event moves stream time forward and fires the
// timers due before it, is folded (an erasure drops the profile) and is
// decided; the timers the engine sets are kept in the profile. Decisions are
// serialized and dropped.
class Shop {
 public:
  // `engine` must outlive the Shop.
  explicit Shop(const decide::Engine* engine);

  // A new customer gets an empty profile holding only its id.
  tailor::v1::CustomerProfile& ProfileOf(const std::string& customer_id);
  tailor::v1::PartitionState& state() { return state_; }

  // Folds and decides a valid, normalized event (see ValidateEvent).
  void Process(const tailor::v1::Event& event);
  // Moves stream time to `now_ms` (if later) and fires the timers due.
  void AdvanceTo(int64_t now_ms);
  // Fires every pending timer, and the ones they set, up to a bound.
  void FireAll();
  // Checks the bound the changelog relies on: after TrimToBytes every
  // profile serializes to at most kMaxProfileBytes. Fails otherwise.
  void CheckProfiles();

 private:
  void FireDue();
  void Emit(tailor::v1::CustomerProfile* profile);

  const decide::Engine* engine_;
  tailor::v1::ProfileSpec spec_;
  std::map<std::string, tailor::v1::CustomerProfile> profiles_;
  tailor::v1::PartitionState state_;
  int64_t stream_time_ms_ = 0;
  decide::Outcome outcome_;
  std::string scratch_;
};

}  // namespace tailor::fuzz

#endif  // TAILOR_TESTS_FUZZ_FUZZ_UTIL_H_
