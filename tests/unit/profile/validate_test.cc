#include "libs/profile/validate.h"

#include <gmock/gmock.h>
#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace tailor::profile {
namespace {

using ::tailor::v1::Event;
using ::tailor::v1::EventTopic;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr int64_t kNow = 1700000000000;  // 2023-11-14T22:13:20Z.
constexpr EventTopic kClick = tailor::v1::EVENT_TOPIC_CLICKSTREAM;
constexpr EventTopic kOrders = tailor::v1::EVENT_TOPIC_ORDERS;
constexpr EventTopic kPrivacy = tailor::v1::EVENT_TOPIC_PRIVACY;

Event Parse(const std::string& text) {
  Event event;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &event))
      << text;
  return event;
}

// A valid envelope around `payload`.
Event Valid(const std::string& payload) {
  return Parse(absl::StrCat("event_id: 'e1' customer_id: 'c1' event_time_ms: ",
                            kNow, " context { session_id: 's1' } ", payload));
}

std::string Long(int n) { return std::string(n, 'x'); }

struct ValidCase {
  std::string payload;
  EventTopic topic;
};

TEST(ValidateEventTest, ValidEventsOfEveryPayloadKindPass) {
  const std::vector<ValidCase> cases = {
      {"page_view { page_type: 'category' category_id: 'shoes' }", kClick},
      {"page_view { page_type: 'home' }", kClick},
      {"product_view { product_id: 'p1' category_id: 'shoes' "
       "price { minor_units: 12999 currency: 'PLN' } }",
       kClick},
      {"search { query_category_id: 'shoes' results: 0 }", kClick},
      {"cart_add { item { product_id: 'p1' category_id: 'shoes' quantity: 1 "
       "unit_price { minor_units: 100 } } }",
       kClick},
      {"cart_remove { product_id: 'p1' quantity: 0 }", kClick},
      {"checkout_started { cart_value { minor_units: 100 currency: 'EUR' } }",
       kClick},
      {"app_open {}", kClick},
      {"push_opened { decision_id: 'd1' campaign: 'cart' }", kClick},
      {"coupon_redeemed { coupon_code: 'X1' campaign: 'loyal' order_id: 'o1' "
       "}",
       kClick},
      {"order_placed { order_id: 'o1' items { product_id: 'p1' quantity: 2 "
       "unit_price { minor_units: 0 currency: 'PLN' } } total { minor_units: "
       "0 currency: 'PLN' } coupon_code: 'X1' }",
       kOrders},
      {"order_cancelled { order_id: 'o1' reason: 'late_delivery' }", kOrders},
      {"order_returned { order_id: 'o1' items { product_id: 'p1' quantity: 1 "
       "} reason: 'damaged' }",
       kOrders},
      {"order_delivered { order_id: 'o1' }", kOrders},
      {"consent_updated { granted_channels: [CHANNEL_PUSH, CHANNEL_EMAIL] "
       "profiling_opt_out: true }",
       kPrivacy},
      {"consent_updated {}", kPrivacy},
      {"erasure_requested { request_id: 'r1' }", kPrivacy},
      {"erasure_requested {}", kPrivacy},
  };
  for (const ValidCase& c : cases) {
    const Event event = Valid(c.payload);
    EXPECT_EQ(TopicOfPayload(event), c.topic) << c.payload;
    EXPECT_TRUE(ValidateEvent(event, c.topic, ValidationLimits{}, kNow).ok())
        << c.payload << ": "
        << ValidateEvent(event, c.topic, ValidationLimits{}, kNow);
  }
}

TEST(ValidateEventTest, TopicOfPayloadIsUnspecifiedWithoutPayload) {
  EXPECT_EQ(TopicOfPayload(Valid("")), tailor::v1::EVENT_TOPIC_UNSPECIFIED);
}

struct ErrorCase {
  std::string text;  // Full event in text format.
  EventTopic topic;
  std::string fragment;  // Expected part of the error message.
};

std::string Env(const std::string& payload) {
  return absl::StrCat("customer_id: 'c1' event_time_ms: ", kNow, " ", payload);
}

TEST(ValidateEventTest, EveryErrorCaseNamesTheProblem) {
  const std::vector<ErrorCase> cases = {
      // Envelope.
      {absl::StrCat("event_time_ms: ", kNow, " app_open {}"), kClick,
       "missing customer_id"},
      {absl::StrCat("customer_id: '", Long(300), "' event_time_ms: ", kNow,
                    " app_open {}"),
       kClick, "customer_id too long (300 > 128)"},
      {absl::StrCat("customer_id: '\\000tailor.checkpoint' event_time_ms: ",
                    kNow, " app_open {}"),
       kClick, "customer_id contains a control character"},
      {Env(absl::StrCat("event_id: '", Long(129), "' app_open {}")), kClick,
       "event_id too long (129 > 128)"},
      {"customer_id: 'c1' app_open {}", kClick, "missing event_time_ms"},
      {"customer_id: 'c1' event_time_ms: 946684799999 app_open {}", kClick,
       "event_time_ms 946684799999 is before the minimum 946684800000"},
      {"customer_id: 'c1' event_time_ms: 4102444800000 app_open {}", kClick,
       "event_time_ms 4102444800000 is more than 24h in the future"},
      {Env(""), kClick, "missing payload"},
      {Env("order_placed { order_id: 'o1' }"), kClick,
       "payload order_placed does not belong on topic clickstream"},
      {Env("page_view {}"), kOrders,
       "payload page_view does not belong on topic orders"},
      {Env("consent_updated {}"), kClick,
       "payload consent_updated does not belong on topic clickstream"},
      {Env("erasure_requested {}"), kOrders,
       "payload erasure_requested does not belong on topic orders"},
      {Env("order_delivered { order_id: 'o1' }"), kPrivacy,
       "payload order_delivered does not belong on topic privacy"},
      {Env("app_open {}"), tailor::v1::EVENT_TOPIC_UNSPECIFIED,
       "payload app_open does not belong on topic unspecified"},
      // Context.
      {Env(absl::StrCat("context { locale: '", Long(65), "' } app_open {}")),
       kClick, "context.locale too long (65 > 64)"},
      {Env(absl::StrCat("context { region: '", Long(65), "' } app_open {}")),
       kClick, "context.region too long (65 > 64)"},
      {Env(absl::StrCat("context { time_zone: '", Long(65), "' } app_open {}")),
       kClick, "context.time_zone too long (65 > 64)"},
      {Env(absl::StrCat("context { session_id: '", Long(129),
                        "' } app_open {}")),
       kClick, "context.session_id too long (129 > 128)"},
      // Clickstream payloads.
      {Env(absl::StrCat("page_view { page_type: '", Long(65), "' }")), kClick,
       "page_view.page_type too long (65 > 64)"},
      {Env(absl::StrCat("page_view { category_id: '", Long(129), "' }")),
       kClick, "page_view.category_id too long (129 > 128)"},
      {Env("product_view { category_id: 'c' }"), kClick,
       "missing product_view.product_id"},
      {Env("product_view { product_id: 'p1' price { minor_units: -1 } }"),
       kClick, "negative amount in product_view.price"},
      {Env("product_view { product_id: 'p1' price { currency: 'pln' } }"),
       kClick, "product_view.price.currency must be 3 upper-case letters"},
      {Env("product_view { product_id: 'p1' price { currency: 'PLNX' } }"),
       kClick, "product_view.price.currency must be 3 upper-case letters"},
      {Env(absl::StrCat("search { query_category_id: '", Long(129), "' }")),
       kClick, "search.query_category_id too long (129 > 128)"},
      {Env("search { results: -1 }"), kClick, "search.results must be >= 0"},
      {Env("cart_add {}"), kClick, "missing cart_add.item"},
      {Env("cart_add { item { product_id: 'p1' quantity: 0 } }"), kClick,
       "cart_add.item.quantity must be > 0"},
      {Env("cart_add { item { product_id: 'p1' quantity: -2 } }"), kClick,
       "cart_add.item.quantity must be > 0"},
      {Env("cart_add { item { quantity: 1 } }"), kClick,
       "missing cart_add.item.product_id"},
      {Env(absl::StrCat("cart_add { item { product_id: 'p1' category_id: '",
                        Long(129), "' quantity: 1 } }")),
       kClick, "cart_add.item.category_id too long (129 > 128)"},
      {Env("cart_add { item { product_id: 'p1' quantity: 1 unit_price { "
           "minor_units: -5 } } }"),
       kClick, "negative amount in cart_add.item.unit_price"},
      {Env("cart_add { item { product_id: 'p1' quantity: 1 unit_price { "
           "currency: 'zł' } } }"),
       kClick, "cart_add.item.unit_price.currency must be 3 upper-case"},
      {Env("cart_remove { quantity: 1 }"), kClick,
       "missing cart_remove.product_id"},
      {Env("cart_remove { product_id: 'p1' quantity: -1 }"), kClick,
       "cart_remove.quantity must be >= 0"},
      {Env("checkout_started { cart_value { minor_units: -1 } }"), kClick,
       "negative amount in checkout_started.cart_value"},
      {Env("push_opened { campaign: 'cart' }"), kClick,
       "missing push_opened.decision_id"},
      {Env(absl::StrCat("push_opened { decision_id: 'd' campaign: '", Long(65),
                        "' }")),
       kClick, "push_opened.campaign too long (65 > 64)"},
      {Env("coupon_redeemed { campaign: 'x' }"), kClick,
       "missing coupon_redeemed.coupon_code"},
      {Env(absl::StrCat("coupon_redeemed { coupon_code: 'X' order_id: '",
                        Long(129), "' }")),
       kClick, "coupon_redeemed.order_id too long (129 > 128)"},
      // Orders payloads.
      {Env("order_placed { total { minor_units: 1 } }"), kOrders,
       "missing order_placed.order_id"},
      {Env("order_placed { order_id: 'o1' total { minor_units: -100 } }"),
       kOrders, "negative amount in order_placed.total"},
      {Env("order_placed { order_id: 'o1' total { currency: 'eur' } }"),
       kOrders, "order_placed.total.currency must be 3 upper-case letters"},
      {Env("order_placed { order_id: 'o1' items { product_id: 'p1' quantity: "
           "1 } items { product_id: 'p2' quantity: 0 } }"),
       kOrders, "order_placed.items[1].quantity must be > 0"},
      {Env("order_placed { order_id: 'o1' items { quantity: 1 } }"), kOrders,
       "missing order_placed.items[0].product_id"},
      {Env("order_placed { order_id: 'o1' items { product_id: 'p1' quantity: "
           "1 unit_price { minor_units: -1 } } }"),
       kOrders, "negative amount in order_placed.items[0].unit_price"},
      {Env(absl::StrCat("order_placed { order_id: 'o1' coupon_code: '",
                        Long(129), "' }")),
       kOrders, "order_placed.coupon_code too long (129 > 128)"},
      {Env("order_cancelled { reason: 'late' }"), kOrders,
       "missing order_cancelled.order_id"},
      {Env(absl::StrCat("order_cancelled { order_id: 'o1' reason: '", Long(65),
                        "' }")),
       kOrders, "order_cancelled.reason too long (65 > 64)"},
      {Env("order_returned { items { product_id: 'p1' quantity: 1 } }"),
       kOrders, "missing order_returned.order_id"},
      {Env("order_returned { order_id: 'o1' items { product_id: 'p1' } }"),
       kOrders, "order_returned.items[0].quantity must be > 0"},
      {Env(absl::StrCat("order_returned { order_id: 'o1' reason: '", Long(65),
                        "' }")),
       kOrders, "order_returned.reason too long (65 > 64)"},
      {Env("order_delivered {}"), kOrders, "missing order_delivered.order_id"},
      // Privacy payloads.
      {Env("consent_updated { granted_channels: [CHANNEL_PUSH, "
           "CHANNEL_UNSPECIFIED] }"),
       kPrivacy, "consent_updated.granted_channels[1] is CHANNEL_UNSPECIFIED"},
      {Env(absl::StrCat("erasure_requested { request_id: '", Long(129), "' }")),
       kPrivacy, "erasure_requested.request_id too long (129 > 128)"},
  };
  for (const ErrorCase& c : cases) {
    const absl::Status status =
        ValidateEvent(Parse(c.text), c.topic, ValidationLimits{}, kNow);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.text;
    EXPECT_THAT(std::string(status.message()), HasSubstr(c.fragment)) << c.text;
  }
}

TEST(ValidateEventTest, UnknownEnumValuesAreAcceptedAndNormalized) {
  // A newer producer may know more device classes and channels.
  Event device = Valid("app_open {}");
  device.mutable_context()->set_device(static_cast<tailor::v1::DeviceClass>(9));
  EXPECT_TRUE(ValidateEvent(device, kClick, {}, kNow).ok());
  NormalizeEnums(&device);
  EXPECT_EQ(device.context().device(), tailor::v1::DEVICE_CLASS_UNSPECIFIED);

  Event consent = Valid("consent_updated {}");
  consent.mutable_consent_updated()->add_granted_channels(
      static_cast<tailor::v1::Channel>(42));
  consent.mutable_consent_updated()->add_granted_channels(
      tailor::v1::CHANNEL_EMAIL);
  EXPECT_TRUE(ValidateEvent(consent, kPrivacy, {}, kNow).ok());
  NormalizeEnums(&consent);
  EXPECT_THAT(consent.consent_updated().granted_channels(),
              ElementsAre(tailor::v1::CHANNEL_EMAIL));
}

TEST(ValidateEventTest, AmountsQuantitiesAndLinesHaveMaxima) {
  ValidationLimits limits;
  limits.max_amount_minor = 1000;
  limits.max_quantity = 5;
  limits.max_line_items = 2;
  const auto message = [&](const std::string& payload, EventTopic topic) {
    return std::string(
        ValidateEvent(Valid(payload), topic, limits, kNow).message());
  };
  EXPECT_EQ(message("cart_add { item { product_id: 'p' quantity: 5 "
                    "unit_price { minor_units: 1000 } } }",
                    kClick),
            "");
  EXPECT_THAT(message("cart_add { item { product_id: 'p' quantity: 1 "
                      "unit_price { minor_units: 1001 } } }",
                      kClick),
              HasSubstr("amount in cart_add.item.unit_price above the "
                        "maximum (1001 > 1000)"));
  EXPECT_THAT(
      message("cart_add { item { product_id: 'p' quantity: 6 } }", kClick),
      HasSubstr("cart_add.item.quantity above the maximum (6 > 5)"));
  EXPECT_THAT(message("order_placed { order_id: 'o' items { product_id: 'a' "
                      "quantity: 1 } items { product_id: 'b' quantity: 1 } "
                      "items { product_id: 'c' quantity: 1 } }",
                      kOrders),
              HasSubstr("order_placed.items has too many lines (3 > 2)"));
  EXPECT_THAT(message("order_placed { order_id: 'o' total { minor_units: "
                      "9223372036854775807 } }",
                      kOrders),
              HasSubstr("amount in order_placed.total above the maximum"));
}

TEST(ValidateEventTest, StringsAtTheBoundAreAccepted) {
  const Event event = Parse(absl::StrCat(
      "customer_id: '", Long(kMaxIdLength), "' event_time_ms: ", kNow,
      " context { locale: '", Long(kMaxCodeLength), "' } app_open {}"));
  EXPECT_TRUE(ValidateEvent(event, kClick, {}, kNow).ok());
}

TEST(ValidateEventTest, EventTimeWindowFollowsTheLimits) {
  ValidationLimits limits;
  limits.min_event_time_ms = kNow - 1000;
  limits.max_future_skew_ms = 3600 * 1000;
  auto at = [](int64_t t) {
    return Parse(
        absl::StrCat("customer_id: 'c1' event_time_ms: ", t, " app_open {}"));
  };
  EXPECT_TRUE(ValidateEvent(at(kNow - 1000), kClick, limits, kNow).ok());
  EXPECT_TRUE(ValidateEvent(at(kNow + 3600 * 1000), kClick, limits, kNow).ok());
  EXPECT_THAT(
      std::string(
          ValidateEvent(at(kNow - 1001), kClick, limits, kNow).message()),
      HasSubstr("is before the minimum"));
  EXPECT_THAT(std::string(ValidateEvent(at(kNow + 3600 * 1000 + 1), kClick,
                                        limits, kNow)
                              .message()),
              HasSubstr("is more than 1h in the future"));
}

TEST(ValidateEventTest, NamesArePayloadFieldNames) {
  EXPECT_EQ(PayloadName(Event::kOrderReturned), "order_returned");
  EXPECT_EQ(PayloadName(Event::PAYLOAD_NOT_SET), "none");
  EXPECT_EQ(TopicKindName(kPrivacy), "privacy");
}

}  // namespace
}  // namespace tailor::profile
