#include "tests/fuzz/fuzz_util.h"

#include <cstdio>
#include <cstdlib>
#include <limits>
#include <memory>
#include <tuple>
#include <utility>

#include "google/protobuf/stubs/logging.h"
#include "libs/decide/rules.h"
#include "libs/profile/fold.h"
#include "libs/profile/limits.h"

namespace tailor::fuzz {
namespace {

namespace v1 = ::tailor::v1;

// Timers one FireDue()/FireAll() fires at most: timers may set timers.
constexpr int kMaxTimerFires = 64;

// Hostile bytes make protobuf log every string that is not UTF-8; a failed
// check says what matters.
[[maybe_unused]] const bool kQuietProtobuf = [] {
  google::protobuf::SetLogHandler(
      [](google::protobuf::LogLevel, const char*, int, const std::string&) {});
  return true;
}();

}  // namespace

void Fail(absl::string_view what) {
  std::fprintf(stderr, "tailor fuzz check failed: %.*s\n",
               static_cast<int>(what.size()), what.data());
  std::abort();
}

std::vector<Frame> SplitFrames(const uint8_t* data, size_t size,
                               int max_frames) {
  std::vector<Frame> frames;
  size_t pos = 0;
  while (static_cast<int>(frames.size()) < max_frames && size - pos >= 3) {
    Frame frame;
    frame.topic = static_cast<v1::EventTopic>(data[pos] % 4);
    size_t length = data[pos + 1] | (size_t{data[pos + 2]} << 8);
    pos += 3;
    if (length > size - pos) length = size - pos;
    frame.bytes =
        absl::string_view(reinterpret_cast<const char*>(data + pos), length);
    pos += length;
    frames.push_back(frame);
  }
  return frames;
}

std::string EncodeFrame(v1::EventTopic topic, absl::string_view bytes) {
  if (bytes.size() > 0xffff) Fail("EncodeFrame: event longer than 65535");
  std::string out;
  out.push_back(static_cast<char>(topic));
  out.push_back(static_cast<char>(bytes.size() & 0xff));
  out.push_back(static_cast<char>(bytes.size() >> 8));
  out.append(bytes.data(), bytes.size());
  return out;
}

namespace {

constexpr int64_t kMinuteMs = 60'000;
constexpr int64_t kHourMs = 60 * kMinuteMs;

v1::Event NewEvent(const std::string& customer_id, int64_t t, int seq) {
  v1::Event e;
  e.set_event_id(customer_id + "-e" + std::to_string(seq));
  e.set_customer_id(customer_id);
  e.set_event_time_ms(t);
  v1::Context* context = e.mutable_context();
  context->set_device(v1::DEVICE_CLASS_MOBILE_WEB);
  context->set_locale("pl-PL");
  context->set_region("PL-MZ");
  context->set_time_zone("Europe/Warsaw");
  context->set_session_id(customer_id + "-s1");
  return e;
}

void SetItem(const std::string& product, int32_t quantity, int64_t price,
             v1::LineItem* item) {
  item->set_product_id(product);
  item->set_category_id("cat-" + product.substr(0, 2));
  item->set_quantity(quantity);
  item->mutable_unit_price()->set_minor_units(price);
  item->mutable_unit_price()->set_currency("PLN");
}

}  // namespace

std::vector<TopicEvent> Timeline(int variant, const std::string& customer_id) {
  std::vector<TopicEvent> out;
  int64_t t = kNowMs - 6 * kHourMs;
  auto add = [&](v1::EventTopic topic, int64_t step_ms) -> v1::Event& {
    t += step_ms;
    out.push_back({topic, NewEvent(customer_id, t, out.size())});
    return out.back().event;
  };
  constexpr auto kClicks = v1::EVENT_TOPIC_CLICKSTREAM;
  constexpr auto kOrders = v1::EVENT_TOPIC_ORDERS;
  constexpr auto kPrivacy = v1::EVENT_TOPIC_PRIVACY;
  {
    auto* consent = add(kPrivacy, 0).mutable_consent_updated();
    consent->add_granted_channels(v1::CHANNEL_PUSH);
    consent->add_granted_channels(v1::CHANNEL_EMAIL);
    consent->add_granted_channels(v1::CHANNEL_ONSITE);
  }
  switch (variant % kTimelineVariants) {
    case 0: {
      add(kClicks, kMinuteMs).mutable_app_open();
      auto* page = add(kClicks, kMinuteMs).mutable_page_view();
      page->set_page_type("category");
      page->set_category_id("cat-sh");
      auto* view = add(kClicks, kMinuteMs).mutable_product_view();
      view->set_product_id("shoe-1");
      view->set_category_id("cat-sh");
      view->mutable_price()->set_minor_units(24999);
      view->mutable_price()->set_currency("PLN");
      add(kClicks, kMinuteMs).mutable_search()->set_query_category_id("cat-sh");
      SetItem("shoe-1", 1, 24999,
              add(kClicks, kMinuteMs).mutable_cart_add()->mutable_item());
      SetItem("sock-2", 3, 1999,
              add(kClicks, kMinuteMs).mutable_cart_add()->mutable_item());
      auto* remove = add(kClicks, kMinuteMs).mutable_cart_remove();
      remove->set_product_id("sock-2");
      remove->set_quantity(1);
      add(kClicks, kMinuteMs)
          .mutable_checkout_started()
          ->mutable_cart_value()
          ->set_minor_units(28997);
      break;
    }
    case 1: {
      SetItem("coat-3", 1, 59900,
              add(kClicks, kMinuteMs).mutable_cart_add()->mutable_item());
      auto* order = add(kOrders, 10 * kMinuteMs).mutable_order_placed();
      order->set_order_id("o-1");
      SetItem("coat-3", 1, 59900, order->add_items());
      order->mutable_total()->set_minor_units(59900);
      order->mutable_total()->set_currency("PLN");
      add(kOrders, kHourMs).mutable_order_delivered()->set_order_id("o-1");
      auto* push = add(kClicks, kMinuteMs).mutable_push_opened();
      push->set_decision_id("d-1");
      push->set_campaign("browse_abandonment");
      auto* redeemed = add(kClicks, kMinuteMs).mutable_coupon_redeemed();
      redeemed->set_coupon_code("WELCOME-1");
      redeemed->set_campaign("first_order_coupon");
      auto* returned = add(kOrders, kHourMs).mutable_order_returned();
      returned->set_order_id("o-1");
      SetItem("coat-3", 1, 59900, returned->add_items());
      returned->set_reason("damaged");
      break;
    }
    default: {
      for (int i = 0; i < 3; ++i) {
        const std::string order_id = "o-" + std::to_string(i);
        auto* order = add(kOrders, kMinuteMs).mutable_order_placed();
        order->set_order_id(order_id);
        SetItem("lamp-" + std::to_string(i), 2, 4500, order->add_items());
        order->mutable_total()->set_minor_units(9000);
        auto* returned = add(kOrders, kMinuteMs).mutable_order_returned();
        returned->set_order_id(order_id);
        returned->set_reason("late_delivery");
      }
      auto* cancelled = add(kOrders, kMinuteMs).mutable_order_cancelled();
      cancelled->set_order_id("o-2");
      cancelled->set_reason("late_delivery");
      add(kPrivacy, kHourMs).mutable_erasure_requested()->set_request_id("r-1");
      break;
    }
  }
  return out;
}

const decide::Engine& DefaultEngine() {
  static const decide::Engine* const engine = [] {
    auto created = decide::Engine::Create(decide::DefaultRules());
    if (!created.ok()) Fail("DefaultRules() refused by Engine::Create");
    return created->release();
  }();
  return *engine;
}

Shop::Shop(const decide::Engine* engine)
    : engine_(engine), spec_(profile::WithDefaults(engine->rules().profile())) {
  state_.set_partition(0);
  state_.set_partition_count(1);
}

v1::CustomerProfile& Shop::ProfileOf(const std::string& customer_id) {
  auto [it, inserted] = profiles_.try_emplace(customer_id);
  if (inserted) it->second.set_customer_id(customer_id);
  return it->second;
}

void Shop::Process(const v1::Event& event) {
  AdvanceTo(event.event_time_ms());
  v1::CustomerProfile& profile = ProfileOf(event.customer_id());
  if (profile::FoldEvent(event, spec_, &profile) ==
      profile::FoldResult::kErased) {
    profiles_.erase(event.customer_id());
    return;
  }
  outcome_.Clear();
  engine_->OnEvent(event, &profile, &state_, &outcome_);
  Emit(&profile);
  // A late event may set a timer that stream time has already passed.
  FireDue();
}

void Shop::AdvanceTo(int64_t now_ms) {
  if (now_ms <= stream_time_ms_) return;
  stream_time_ms_ = now_ms;
  FireDue();
}

void Shop::FireAll() { AdvanceTo(std::numeric_limits<int64_t>::max()); }

// Fires the earliest timer due before stream time, one at a time, as the
// processor's timer index orders them: (fire time, customer, timer id).
void Shop::FireDue() {
  for (int fired = 0; fired < kMaxTimerFires; ++fired) {
    v1::CustomerProfile* owner = nullptr;
    int slot = -1;
    for (auto& [id, profile] : profiles_) {
      const auto& pending = profile.pending_timers();
      for (int i = 0; i < pending.size(); ++i) {
        const v1::Timer& t = pending.Get(i);
        if (t.fire_at_ms() >= stream_time_ms_) continue;
        if (owner != nullptr) {
          const v1::Timer& best = owner->pending_timers(slot);
          if (std::forward_as_tuple(t.fire_at_ms(), id, t.timer_id()) >=
              std::forward_as_tuple(best.fire_at_ms(), owner->customer_id(),
                                    best.timer_id())) {
            continue;
          }
        }
        owner = &profile;
        slot = i;
      }
    }
    if (owner == nullptr) return;
    v1::Timer timer = owner->pending_timers(slot);
    owner->mutable_pending_timers()->DeleteSubrange(slot, 1);
    outcome_.Clear();
    engine_->OnTimer(timer, timer.fire_at_ms(), owner, &state_, &outcome_);
    Emit(owner);
  }
}

void Shop::Emit(v1::CustomerProfile* profile) {
  for (const v1::Timer& timer : outcome_.timers) {
    v1::Timer* slot = nullptr;
    for (v1::Timer& t : *profile->mutable_pending_timers()) {
      if (t.timer_id() == timer.timer_id()) slot = &t;
    }
    *(slot != nullptr ? slot : profile->add_pending_timers()) = timer;
  }
  // Consumers of the decision topics must be able to decode every decision.
  v1::Decision reread;
  for (const v1::Decision& decision : outcome_.decisions) {
    decision.SerializeToString(&scratch_);
    if (!reread.ParseFromString(scratch_)) Fail("a decision does not reparse");
  }
}

void Shop::CheckProfiles() {
  for (auto& [id, profile] : profiles_) {
    profile::TrimToBytes(profile::kMaxProfileBytes, &profile);
    if (profile.ByteSizeLong() > profile::kMaxProfileBytes) {
      Fail("a profile exceeds kMaxProfileBytes after TrimToBytes");
    }
    profile.SerializeToString(&scratch_);
    v1::CustomerProfile reread;
    if (!reread.ParseFromString(scratch_)) Fail("a profile does not reparse");
  }
}

}  // namespace tailor::fuzz
