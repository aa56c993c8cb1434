// Fuzz target: the input path of libs/pipeline/processor.cc for hostile
// bytes on the input topics. The input holds up to kMaxEvents frames
// (fuzz_util.h: topic byte, length, bytes); each frame is decoded as a
// tailor.v1.Event, validated for its topic at a fixed wall clock and, if
// valid, normalized, folded into its customer's profile and decided by the
// default rules. Timers fire as stream time passes and at the end; every
// profile must then fit kMaxProfileBytes after TrimToBytes.
#include <cstddef>
#include <cstdint>

#include "libs/profile/validate.h"
#include "tailor/v1/events.pb.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace fuzz = ::tailor::fuzz;
  namespace profile = ::tailor::profile;
  const profile::ValidationLimits limits;
  fuzz::Shop shop(&fuzz::DefaultEngine());
  tailor::v1::Event event;
  for (const fuzz::Frame& frame :
       fuzz::SplitFrames(data, size, fuzz::kMaxEvents)) {
    if (!event.ParseFromArray(frame.bytes.data(),
                              static_cast<int>(frame.bytes.size()))) {
      continue;
    }
    if (!profile::ValidateEvent(event, frame.topic, limits, fuzz::kNowMs)
             .ok()) {
      continue;
    }
    profile::NormalizeEnums(&event);
    shop.Process(event);
  }
  shop.FireAll();
  shop.CheckProfiles();
  return 0;
}
