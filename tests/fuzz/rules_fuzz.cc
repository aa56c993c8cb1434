// Fuzz target: a rules file (YAML or JSON text) as the personalizer loads
// it at start and on SIGHUP: ParseYamlIntoProto into tailor.v1.RulesConfig,
// ValidateRules and Engine::Create, which must agree. Rules that are
// accepted then run three customers' timelines (fuzz_util.h Timeline) with
// their timers, so no accepted value can make the engine misbehave.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "libs/config/yaml_proto.h"
#include "libs/decide/engine.h"
#include "libs/decide/rules.h"
#include "libs/profile/validate.h"
#include "tailor/v1/config.pb.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

namespace fuzz = ::tailor::fuzz;

// The timelines of three customers, merged in event time order.
const std::vector<fuzz::TopicEvent>& Events() {
  static const auto* const events = [] {
    auto* all = new std::vector<fuzz::TopicEvent>;
    for (int v = 0; v < fuzz::kTimelineVariants; ++v) {
      for (fuzz::TopicEvent& e : fuzz::Timeline(v, "c" + std::to_string(v))) {
        if (!tailor::profile::ValidateEvent(e.event, e.topic, {}, fuzz::kNowMs)
                 .ok()) {
          fuzz::Fail("a timeline event is invalid");
        }
        all->push_back(std::move(e));
      }
    }
    std::stable_sort(all->begin(), all->end(),
                     [](const auto& a, const auto& b) {
                       return a.event.event_time_ms() < b.event.event_time_ms();
                     });
    return all;
  }();
  return *events;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<fuzz::TopicEvent>& events = Events();
  tailor::v1::RulesConfig rules;
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  if (!tailor::config::ParseYamlIntoProto(text, &rules).ok()) return 0;
  const absl::Status valid = tailor::decide::ValidateRules(rules);
  auto engine = tailor::decide::Engine::Create(rules);
  if (valid.ok() != engine.ok()) {
    fuzz::Fail("ValidateRules and Engine::Create disagree");
  }
  if (!engine.ok()) return 0;
  fuzz::Shop shop(engine->get());
  for (const fuzz::TopicEvent& e : events) shop.Process(e.event);
  shop.FireAll();
  shop.CheckProfiles();
  return 0;
}
