#include "libs/profile/validate.h"

#include <cstdint>
#include <limits>
#include <string>

#include "absl/strings/str_cat.h"
#include "libs/base/status_macros.h"

namespace tailor::profile {
namespace {

using ::tailor::v1::Event;
using ::tailor::v1::EventTopic;
using ::tailor::v1::LineItem;
using ::tailor::v1::Money;

// A field path built on the stack while validating and rendered only when an
// error is reported, so the success path never allocates.
struct Path {
  const Path* parent = nullptr;
  absl::string_view name;
  int index = -1;  // >= 0 for an element of a repeated field.
};

void AppendPath(const Path& path, std::string* out) {
  if (path.parent != nullptr) {
    AppendPath(*path.parent, out);
    out->push_back('.');
  }
  out->append(path.name.data(), path.name.size());
  if (path.index >= 0) absl::StrAppend(out, "[", path.index, "]");
}

std::string Render(const Path& path) {
  std::string out;
  AppendPath(path, &out);
  return out;
}

absl::Status Missing(const Path& path) {
  return absl::InvalidArgumentError(absl::StrCat("missing ", Render(path)));
}

absl::Status CheckLength(absl::string_view value, const Path& path,
                         int max_length) {
  if (value.size() > static_cast<size_t>(max_length)) {
    return absl::InvalidArgumentError(absl::StrCat(
        Render(path), " too long (", value.size(), " > ", max_length, ")"));
  }
  return absl::OkStatus();
}

absl::Status CheckRequiredId(absl::string_view value, const Path& path) {
  if (value.empty()) return Missing(path);
  return CheckLength(value, path, kMaxIdLength);
}

absl::Status CheckOptionalId(absl::string_view value, const Path& path) {
  return CheckLength(value, path, kMaxIdLength);
}

absl::Status CheckCode(absl::string_view value, const Path& path) {
  return CheckLength(value, path, kMaxCodeLength);
}

bool IsCurrencyCode(absl::string_view code) {
  if (code.empty()) return true;
  if (code.size() != 3) return false;
  for (char c : code) {
    if (c < 'A' || c > 'Z') return false;
  }
  return true;
}

absl::Status CheckMoney(const Money& money, const Path& path,
                        const ValidationLimits& limits) {
  if (money.minor_units() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("negative amount in ", Render(path)));
  }
  if (money.minor_units() > limits.max_amount_minor) {
    return absl::InvalidArgumentError(
        absl::StrCat("amount in ", Render(path), " above the maximum (",
                     money.minor_units(), " > ", limits.max_amount_minor, ")"));
  }
  if (!IsCurrencyCode(money.currency())) {
    return absl::InvalidArgumentError(absl::StrCat(
        Render(path), ".currency must be 3 upper-case letters or empty"));
  }
  return absl::OkStatus();
}

absl::Status CheckLineItem(const LineItem& item, const Path& path,
                           const ValidationLimits& limits) {
  TAILOR_RETURN_IF_ERROR(
      CheckRequiredId(item.product_id(), Path{&path, "product_id"}));
  TAILOR_RETURN_IF_ERROR(
      CheckOptionalId(item.category_id(), Path{&path, "category_id"}));
  if (item.quantity() <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(Render(path), ".quantity must be > 0"));
  }
  if (item.quantity() > limits.max_quantity) {
    return absl::InvalidArgumentError(
        absl::StrCat(Render(path), ".quantity above the maximum (",
                     item.quantity(), " > ", limits.max_quantity, ")"));
  }
  return CheckMoney(item.unit_price(), Path{&path, "unit_price"}, limits);
}

template <typename Items>
absl::Status CheckLineItems(const Items& items, const Path& parent,
                            absl::string_view name,
                            const ValidationLimits& limits) {
  if (items.size() > limits.max_line_items) {
    return absl::InvalidArgumentError(
        absl::StrCat(Render(Path{&parent, name}), " has too many lines (",
                     items.size(), " > ", limits.max_line_items, ")"));
  }
  for (int i = 0; i < items.size(); ++i) {
    TAILOR_RETURN_IF_ERROR(
        CheckLineItem(items.Get(i), Path{&parent, name, i}, limits));
  }
  return absl::OkStatus();
}

std::string FormatDuration(int64_t ms) {
  constexpr int64_t kHour = 3600 * 1000;
  constexpr int64_t kMinute = 60 * 1000;
  if (ms != 0 && ms % kHour == 0) return absl::StrCat(ms / kHour, "h");
  if (ms != 0 && ms % kMinute == 0) return absl::StrCat(ms / kMinute, "min");
  return absl::StrCat(ms, "ms");
}

absl::Status CheckEventTime(int64_t event_time_ms,
                            const ValidationLimits& limits, int64_t now_ms) {
  if (event_time_ms == 0) {
    return absl::InvalidArgumentError("missing event_time_ms");
  }
  if (event_time_ms < limits.min_event_time_ms) {
    return absl::InvalidArgumentError(
        absl::StrCat("event_time_ms ", event_time_ms, " is before the minimum ",
                     limits.min_event_time_ms));
  }
  const int64_t skew =
      limits.max_future_skew_ms < 0 ? 0 : limits.max_future_skew_ms;
  const bool saturates = now_ms > std::numeric_limits<int64_t>::max() - skew;
  if (!saturates && event_time_ms > now_ms + skew) {
    return absl::InvalidArgumentError(
        absl::StrCat("event_time_ms ", event_time_ms, " is more than ",
                     FormatDuration(skew), " in the future"));
  }
  return absl::OkStatus();
}

absl::Status CheckContext(const tailor::v1::Context& context) {
  const Path root{nullptr, "context"};
  TAILOR_RETURN_IF_ERROR(CheckCode(context.locale(), Path{&root, "locale"}));
  TAILOR_RETURN_IF_ERROR(CheckCode(context.region(), Path{&root, "region"}));
  TAILOR_RETURN_IF_ERROR(
      CheckCode(context.time_zone(), Path{&root, "time_zone"}));
  return CheckOptionalId(context.session_id(), Path{&root, "session_id"});
}

absl::Status CheckPayload(const Event& event, const ValidationLimits& limits) {
  const Path root{nullptr, PayloadName(event.payload_case())};
  switch (event.payload_case()) {
    case Event::kPageView: {
      const auto& p = event.page_view();
      TAILOR_RETURN_IF_ERROR(
          CheckCode(p.page_type(), Path{&root, "page_type"}));
      return CheckOptionalId(p.category_id(), Path{&root, "category_id"});
    }
    case Event::kProductView: {
      const auto& p = event.product_view();
      TAILOR_RETURN_IF_ERROR(
          CheckRequiredId(p.product_id(), Path{&root, "product_id"}));
      TAILOR_RETURN_IF_ERROR(
          CheckOptionalId(p.category_id(), Path{&root, "category_id"}));
      return CheckMoney(p.price(), Path{&root, "price"}, limits);
    }
    case Event::kSearch: {
      const auto& p = event.search();
      TAILOR_RETURN_IF_ERROR(CheckOptionalId(p.query_category_id(),
                                             Path{&root, "query_category_id"}));
      if (p.results() < 0) {
        return absl::InvalidArgumentError("search.results must be >= 0");
      }
      return absl::OkStatus();
    }
    case Event::kCartAdd: {
      const Path item{&root, "item"};
      if (!event.cart_add().has_item()) return Missing(item);
      return CheckLineItem(event.cart_add().item(), item, limits);
    }
    case Event::kCartRemove: {
      const auto& p = event.cart_remove();
      TAILOR_RETURN_IF_ERROR(
          CheckRequiredId(p.product_id(), Path{&root, "product_id"}));
      if (p.quantity() < 0) {
        return absl::InvalidArgumentError("cart_remove.quantity must be >= 0");
      }
      return absl::OkStatus();
    }
    case Event::kCheckoutStarted:
      return CheckMoney(event.checkout_started().cart_value(),
                        Path{&root, "cart_value"}, limits);
    case Event::kAppOpen:
      return absl::OkStatus();
    case Event::kPushOpened: {
      const auto& p = event.push_opened();
      TAILOR_RETURN_IF_ERROR(
          CheckRequiredId(p.decision_id(), Path{&root, "decision_id"}));
      return CheckCode(p.campaign(), Path{&root, "campaign"});
    }
    case Event::kCouponRedeemed: {
      const auto& p = event.coupon_redeemed();
      TAILOR_RETURN_IF_ERROR(
          CheckRequiredId(p.coupon_code(), Path{&root, "coupon_code"}));
      TAILOR_RETURN_IF_ERROR(CheckCode(p.campaign(), Path{&root, "campaign"}));
      return CheckOptionalId(p.order_id(), Path{&root, "order_id"});
    }
    case Event::kOrderPlaced: {
      const auto& p = event.order_placed();
      TAILOR_RETURN_IF_ERROR(
          CheckRequiredId(p.order_id(), Path{&root, "order_id"}));
      TAILOR_RETURN_IF_ERROR(CheckLineItems(p.items(), root, "items", limits));
      TAILOR_RETURN_IF_ERROR(
          CheckMoney(p.total(), Path{&root, "total"}, limits));
      return CheckOptionalId(p.coupon_code(), Path{&root, "coupon_code"});
    }
    case Event::kOrderCancelled: {
      const auto& p = event.order_cancelled();
      TAILOR_RETURN_IF_ERROR(
          CheckRequiredId(p.order_id(), Path{&root, "order_id"}));
      return CheckCode(p.reason(), Path{&root, "reason"});
    }
    case Event::kOrderReturned: {
      const auto& p = event.order_returned();
      TAILOR_RETURN_IF_ERROR(
          CheckRequiredId(p.order_id(), Path{&root, "order_id"}));
      TAILOR_RETURN_IF_ERROR(CheckLineItems(p.items(), root, "items", limits));
      return CheckCode(p.reason(), Path{&root, "reason"});
    }
    case Event::kOrderDelivered:
      return CheckRequiredId(event.order_delivered().order_id(),
                             Path{&root, "order_id"});
    case Event::kConsentUpdated: {
      const auto& channels = event.consent_updated().granted_channels();
      for (int i = 0; i < channels.size(); ++i) {
        // A channel this build does not know is dropped (NormalizeEnums).
        const int value = channels.Get(i);
        if (value == tailor::v1::CHANNEL_UNSPECIFIED) {
          return absl::InvalidArgumentError(
              absl::StrCat("consent_updated.granted_channels[", i,
                           "] is CHANNEL_UNSPECIFIED"));
        }
      }
      return absl::OkStatus();
    }
    case Event::kErasureRequested:
      // The request id is optional: an erasure is never rejected for a
      // missing audit id, only for a malformed one.
      return CheckOptionalId(event.erasure_requested().request_id(),
                             Path{&root, "request_id"});
    case Event::PAYLOAD_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError("missing payload");
}

}  // namespace

EventTopic TopicOfPayload(const Event& event) {
  const int field = static_cast<int>(event.payload_case());
  if (field >= 10 && field <= 29) return tailor::v1::EVENT_TOPIC_CLICKSTREAM;
  if (field >= 30 && field <= 49) return tailor::v1::EVENT_TOPIC_ORDERS;
  if (field >= 50 && field <= 69) return tailor::v1::EVENT_TOPIC_PRIVACY;
  return tailor::v1::EVENT_TOPIC_UNSPECIFIED;
}

absl::string_view PayloadName(Event::PayloadCase payload_case) {
  switch (payload_case) {
    case Event::kPageView:
      return "page_view";
    case Event::kProductView:
      return "product_view";
    case Event::kSearch:
      return "search";
    case Event::kCartAdd:
      return "cart_add";
    case Event::kCartRemove:
      return "cart_remove";
    case Event::kCheckoutStarted:
      return "checkout_started";
    case Event::kAppOpen:
      return "app_open";
    case Event::kPushOpened:
      return "push_opened";
    case Event::kCouponRedeemed:
      return "coupon_redeemed";
    case Event::kOrderPlaced:
      return "order_placed";
    case Event::kOrderCancelled:
      return "order_cancelled";
    case Event::kOrderReturned:
      return "order_returned";
    case Event::kOrderDelivered:
      return "order_delivered";
    case Event::kConsentUpdated:
      return "consent_updated";
    case Event::kErasureRequested:
      return "erasure_requested";
    case Event::PAYLOAD_NOT_SET:
      break;
  }
  return "none";
}

absl::string_view TopicKindName(EventTopic topic) {
  switch (topic) {
    case tailor::v1::EVENT_TOPIC_CLICKSTREAM:
      return "clickstream";
    case tailor::v1::EVENT_TOPIC_ORDERS:
      return "orders";
    case tailor::v1::EVENT_TOPIC_PRIVACY:
      return "privacy";
    default:
      return "unspecified";
  }
}

void NormalizeEnums(Event* event) {
  if (event->has_context() &&
      !tailor::v1::DeviceClass_IsValid(event->context().device())) {
    event->mutable_context()->set_device(tailor::v1::DEVICE_CLASS_UNSPECIFIED);
  }
  if (event->has_consent_updated()) {
    auto* channels =
        event->mutable_consent_updated()->mutable_granted_channels();
    int keep = 0;
    for (int i = 0; i < channels->size(); ++i) {
      if (tailor::v1::Channel_IsValid(channels->Get(i))) {
        channels->Set(keep++, channels->Get(i));
      }
    }
    channels->Truncate(keep);
  }
}

absl::Status ValidateEvent(const Event& event, EventTopic arrived_on,
                           const ValidationLimits& limits, int64_t now_ms) {
  TAILOR_RETURN_IF_ERROR(
      CheckRequiredId(event.customer_id(), Path{nullptr, "customer_id"}));
  // Control characters are refused so that no customer id can collide with
  // the changelog's checkpoint key, which starts with a NUL byte.
  for (const char c : event.customer_id()) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError(
          "customer_id contains a control character");
    }
  }
  TAILOR_RETURN_IF_ERROR(
      CheckOptionalId(event.event_id(), Path{nullptr, "event_id"}));
  TAILOR_RETURN_IF_ERROR(CheckEventTime(event.event_time_ms(), limits, now_ms));
  if (event.payload_case() == Event::PAYLOAD_NOT_SET) {
    return absl::InvalidArgumentError("missing payload");
  }
  const EventTopic belongs_on = TopicOfPayload(event);
  if (belongs_on != arrived_on) {
    return absl::InvalidArgumentError(
        absl::StrCat("payload ", PayloadName(event.payload_case()),
                     " does not belong on topic ", TopicKindName(arrived_on)));
  }
  if (event.has_context())
    TAILOR_RETURN_IF_ERROR(CheckContext(event.context()));
  return CheckPayload(event, limits);
}

}  // namespace tailor::profile
