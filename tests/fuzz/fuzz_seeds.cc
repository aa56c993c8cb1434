// Writes the binary seed corpora of the fuzz targets (and the JSON rules
// seed) under the directory given, e.g. `fuzz_seeds tests/fuzz/corpus`:
// framed events (event/), changelog records (changelog/) and DefaultRules()
// as JSON (rules/). Built from fuzz_util.h's timelines, so the seeds are
// valid inputs that reach the fold, the engine and the timers.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"
#include "libs/decide/rules.h"
#include "libs/profile/validate.h"
#include "tailor/v1/profile.pb.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

namespace fuzz = ::tailor::fuzz;
namespace v1 = ::tailor::v1;

void Write(const std::filesystem::path& path, const std::string& bytes) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) fuzz::Fail(absl::StrCat("cannot write ", path.string()));
  std::printf("%s (%zu bytes)\n", path.c_str(), bytes.size());
}

std::string Frames(const std::vector<fuzz::TopicEvent>& events, size_t from) {
  std::string out;
  for (size_t i = from; i < events.size() && i < from + fuzz::kMaxEvents; ++i) {
    out +=
        fuzz::EncodeFrame(events[i].topic, events[i].event.SerializeAsString());
  }
  return out;
}

// A changelog_fuzz input holding a profile record.
std::string ProfileRecord(int partition, int variant, const std::string& key,
                          const std::string& value) {
  std::string out;
  out.push_back(static_cast<char>((variant << 4) | (partition << 1)));
  out.push_back(static_cast<char>(key.size()));
  return out + key + value;
}

void WriteEvents(const std::filesystem::path& dir) {
  std::vector<fuzz::TopicEvent> mixed;
  std::set<absl::string_view> payloads;
  for (int v = 0; v < fuzz::kTimelineVariants; ++v) {
    const auto events = fuzz::Timeline(v, absl::StrCat("c", v));
    for (const fuzz::TopicEvent& e : events) {
      if (!tailor::profile::ValidateEvent(e.event, e.topic, {}, fuzz::kNowMs)
               .ok()) {
        fuzz::Fail("a timeline event is invalid");
      }
      // One seed per payload kind (the first event of each kind).
      const absl::string_view payload =
          tailor::profile::PayloadName(e.event.payload_case());
      if (payloads.insert(payload).second) {
        Write(dir / absl::StrCat("single-", payload), Frames({e}, 0));
      }
    }
    Write(dir / absl::StrCat("timeline-", v), Frames(events, 0));
    if (events.size() > fuzz::kMaxEvents) {
      Write(dir / absl::StrCat("timeline-", v, "-tail"),
            Frames(events, events.size() - fuzz::kMaxEvents));
    }
    if (v < 2) {
      for (size_t i = 0; i < 4 && i < events.size(); ++i) {
        mixed.push_back(events[i]);
      }
    }
  }
  Write(dir / "two-customers", Frames(mixed, 0));
  // An order on the clickstream topic: refused by validation.
  auto wrong = fuzz::Timeline(1, "c1");
  wrong[2].topic = v1::EVENT_TOPIC_CLICKSTREAM;
  Write(dir / "wrong-topic", Frames({wrong[2]}, 0));
}

void WriteChangelog(const std::filesystem::path& dir) {
  fuzz::Shop all(&fuzz::DefaultEngine());
  for (int v = 0; v < 2; ++v) {
    const std::string id = absl::StrCat("c", v);
    fuzz::Shop shop(&fuzz::DefaultEngine());
    for (const fuzz::TopicEvent& e : fuzz::Timeline(v, id)) {
      shop.Process(e.event);
      all.Process(e.event);
    }
    // With the timers still pending, then after they fired.
    Write(dir / absl::StrCat("profile-", v, "-pending"),
          ProfileRecord(v + 1, v, id, shop.ProfileOf(id).SerializeAsString()));
    shop.FireAll();
    Write(dir / absl::StrCat("profile-", v, "-fired"),
          ProfileRecord(3, 2, id, shop.ProfileOf(id).SerializeAsString()));
  }
  Write(dir / "tombstone", ProfileRecord(2, 0, "c2", ""));
  all.FireAll();
  v1::PartitionCheckpoint checkpoint;
  int64_t offset = 1000;
  for (const char* topic : {"clickstream", "orders", "privacy"}) {
    v1::InputPosition* position = checkpoint.add_positions();
    position->set_topic(topic);
    position->set_next_offset(offset += 777);
  }
  *checkpoint.mutable_state() = all.state();
  checkpoint.mutable_state()->set_stream_time_ms(fuzz::kNowMs);
  std::string record(1, static_cast<char>((1 << 4) | (5 << 1) | 1));
  Write(dir / "checkpoint", record + checkpoint.SerializeAsString());
}

void WriteRulesJson(const std::filesystem::path& dir) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.add_whitespace = true;
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(
           tailor::decide::DefaultRules(), &json, options)
           .ok()) {
    fuzz::Fail("DefaultRules() does not print as JSON");
  }
  Write(dir / "default-rules.json", json);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus-dir>\n", argv[0]);
    return 2;
  }
  const std::filesystem::path root = argv[1];
  WriteEvents(root / "event");
  WriteChangelog(root / "changelog");
  WriteRulesJson(root / "rules");
  return 0;
}
