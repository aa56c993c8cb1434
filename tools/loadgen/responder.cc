#include "tools/loadgen/responder.h"

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "libs/base/stable_hash.h"

namespace tailor::loadgen {
namespace {

namespace v1 = ::tailor::v1;

absl::Status Bad(absl::string_view part, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("--respond: \"", part, "\": ", why));
}

const v1::CouponPayload* CouponOf(const v1::Decision& d) {
  if (d.has_coupon()) return &d.coupon();
  if (d.has_cart_reminder() && d.cart_reminder().has_coupon()) {
    return &d.cart_reminder().coupon();
  }
  return nullptr;
}

}  // namespace

absl::Status ParseResponses(absl::string_view spec, ResponderOptions* options) {
  for (absl::string_view part : absl::StrSplit(spec, ';', absl::SkipEmpty())) {
    const std::pair<absl::string_view, absl::string_view> name_values =
        absl::StrSplit(part, absl::MaxSplits(':', 1));
    const absl::string_view name =
        absl::StripAsciiWhitespace(name_values.first);
    if (name.empty()) return Bad(part, "no campaign name before ':'");
    CampaignResponse response;
    for (absl::string_view kv :
         absl::StrSplit(name_values.second, ',', absl::SkipEmpty())) {
      const std::pair<absl::string_view, absl::string_view> key_value =
          absl::StrSplit(kv, absl::MaxSplits('=', 1));
      double value = 0;
      if (!absl::SimpleAtod(key_value.second, &value) || !(value >= 0) ||
          value > 1) {
        return Bad(kv, "the value must be a probability in 0..1");
      }
      const absl::string_view key = absl::StripAsciiWhitespace(key_value.first);
      if (key == "open") {
        response.open = value;
      } else if (key == "treated") {
        response.treated = value;
      } else if (key == "base") {
        response.base = value;
      } else {
        return Bad(kv, "unknown key (open, treated, base)");
      }
    }
    if (name == "*") {
      options->fallback = response;
    } else {
      options->campaigns[std::string(name)] = response;
    }
  }
  return absl::OkStatus();
}

Responder::Responder(ResponderOptions options) : options_(std::move(options)) {}

double Responder::Draw(const v1::Decision& d, absl::string_view what) const {
  return StableUnitInterval(
      {absl::StrCat(options_.seed), d.decision_id(), what});
}

void Responder::Respond(const v1::Decision& d,
                        std::vector<Response>* out) const {
  const auto it = options_.campaigns.find(d.campaign());
  const CampaignResponse* r = it != options_.campaigns.end() ? &it->second
                              : options_.fallback.has_value()
                                  ? &*options_.fallback
                                  : nullptr;
  if (r == nullptr) return;
  const bool sent = d.action() == v1::DECISION_ACTION_SEND;
  if (!sent && d.action() != v1::DECISION_ACTION_HOLD_OUT) return;
  const auto begin = [&](absl::string_view what, int64_t after_ms) {
    Response& response = out->emplace_back();
    response.topic =
        what == "order" ? v1::EVENT_TOPIC_ORDERS : v1::EVENT_TOPIC_CLICKSTREAM;
    v1::Event& e = response.event;
    e.set_event_id(absl::StrCat("r-", d.decision_id(), "-", what));
    e.set_customer_id(d.customer_id());
    e.set_event_time_ms(d.created_at_ms() + after_ms);
    return &e;
  };
  if (sent && r->open > 0 &&
      (d.kind() == v1::DECISION_KIND_PUSH ||
       d.kind() == v1::DECISION_KIND_CART_REMINDER) &&
      Draw(d, "open") < r->open) {
    v1::PushOpened* opened =
        begin("open", options_.open_after_ms)->mutable_push_opened();
    opened->set_decision_id(d.decision_id());
    opened->set_campaign(d.campaign());
  }
  if (Draw(d, "order") >= (sent ? r->treated : r->base)) return;
  const std::string order_id = absl::StrCat("ro-", d.decision_id());
  v1::OrderPlaced* order =
      begin("order", options_.order_after_ms)->mutable_order_placed();
  order->set_order_id(order_id);
  v1::LineItem* item = order->add_items();
  item->set_product_id("p-response");
  item->set_quantity(1);
  item->mutable_unit_price()->set_minor_units(options_.order_value_minor);
  item->mutable_unit_price()->set_currency(options_.currency);
  order->mutable_total()->set_minor_units(options_.order_value_minor);
  order->mutable_total()->set_currency(options_.currency);
  const v1::CouponPayload* coupon = sent ? CouponOf(d) : nullptr;
  if (coupon == nullptr || coupon->code().empty()) return;
  order->set_coupon_code(coupon->code());
  v1::CouponRedeemed* redeemed =
      begin("redeemed", options_.order_after_ms)->mutable_coupon_redeemed();
  redeemed->set_coupon_code(coupon->code());
  redeemed->set_campaign(d.campaign());
  redeemed->set_order_id(order_id);
}

}  // namespace tailor::loadgen
