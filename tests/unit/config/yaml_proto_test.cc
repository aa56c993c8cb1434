#include "libs/config/yaml_proto.h"

#include <stdlib.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "tailor/v1/config.pb.h"
#include "tailor/v1/events.pb.h"
#include "tailor/v1/profile.pb.h"

namespace tailor::config {
namespace {

using tailor::v1::RulesConfig;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

absl::Status Parse(absl::string_view yaml, google::protobuf::Message* out) {
  return ParseYamlIntoProto(yaml, out);
}

TEST(ParseYamlIntoProtoTest, MapsNestedScalarsEnumsAndLists) {
  RulesConfig rules;
  absl::Status s = Parse(R"(
default_currency: PLN
max_recommendations: 3
profile:
  affinity_half_life_hours: 72.5
  top_k: 20
frequency_caps:
  - channel: CHANNEL_PUSH
    max: 2
    period_hours: 24
  - {channel: email, max: 1, period_hours: 168}
quiet_hours:
  start_hour: 21
  end_hour: 8
  default_time_zone: Europe/Warsaw
abandoned_cart:
  common:
    name: cart-1
    enabled: true
    channel: push
    holdout_percent: 10
    variants:
      - {name: A, weight: 1}
      - {name: B, weight: 3, percent_off: 15}
  first_reminder_minutes: 30
  second_reminder_minutes: 1440
  coupon:
    percent_off: 10
loyalty_coupon:
  order_tiers: [3, 10, 25]
)",
                         &rules);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(rules.default_currency(), "PLN");
  EXPECT_EQ(rules.max_recommendations(), 3);
  EXPECT_DOUBLE_EQ(rules.profile().affinity_half_life_hours(), 72.5);
  EXPECT_EQ(rules.profile().top_k(), 20);
  ASSERT_EQ(rules.frequency_caps_size(), 2);
  EXPECT_EQ(rules.frequency_caps(0).channel(), tailor::v1::CHANNEL_PUSH);
  EXPECT_EQ(rules.frequency_caps(0).max(), 2);
  EXPECT_EQ(rules.frequency_caps(1).channel(), tailor::v1::CHANNEL_EMAIL);
  EXPECT_EQ(rules.frequency_caps(1).period_hours(), 168);
  EXPECT_EQ(rules.quiet_hours().default_time_zone(), "Europe/Warsaw");
  const auto& cart = rules.abandoned_cart();
  EXPECT_EQ(cart.common().name(), "cart-1");
  EXPECT_TRUE(cart.common().enabled());
  EXPECT_EQ(cart.common().channel(), tailor::v1::CHANNEL_PUSH);
  EXPECT_DOUBLE_EQ(cart.common().holdout_percent(), 10.0);
  ASSERT_EQ(cart.common().variants_size(), 2);
  EXPECT_EQ(cart.common().variants(1).name(), "B");
  EXPECT_DOUBLE_EQ(cart.common().variants(1).weight(), 3.0);
  EXPECT_EQ(cart.common().variants(1).percent_off(), 15);
  EXPECT_EQ(cart.first_reminder_minutes(), 30);
  EXPECT_EQ(cart.second_reminder_minutes(), 1440);
  EXPECT_EQ(cart.coupon().percent_off(), 10);
  EXPECT_THAT(rules.loyalty_coupon().order_tiers(), ElementsAre(3, 10, 25));
}

TEST(ParseYamlIntoProtoTest, JsonIsAccepted) {
  RulesConfig rules;
  absl::Status s = Parse(
      R"({"default_currency": "EUR", "maxRecommendations": 5,
          "abandoned_cart": {"first_reminder_minutes": 45,
                             "common": {"channel": "CHANNEL_EMAIL"}}})",
      &rules);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(rules.default_currency(), "EUR");
  EXPECT_EQ(rules.max_recommendations(), 5);  // json_name works too.
  EXPECT_EQ(rules.abandoned_cart().first_reminder_minutes(), 45);
  EXPECT_EQ(rules.abandoned_cart().common().channel(),
            tailor::v1::CHANNEL_EMAIL);
}

TEST(ParseYamlIntoProtoTest, EnumNames) {
  struct Case {
    const char* text;
    tailor::v1::Channel want;
  };
  for (const Case& c : {Case{"CHANNEL_PUSH", tailor::v1::CHANNEL_PUSH},
                        Case{"push", tailor::v1::CHANNEL_PUSH},
                        Case{"Push", tailor::v1::CHANNEL_PUSH},
                        Case{"PUSH", tailor::v1::CHANNEL_PUSH},
                        Case{"onsite", tailor::v1::CHANNEL_ONSITE},
                        Case{"agent", tailor::v1::CHANNEL_AGENT},
                        Case{"2", tailor::v1::CHANNEL_EMAIL}}) {
    tailor::v1::FrequencyCap cap;
    absl::Status s = Parse(std::string("channel: ") + c.text, &cap);
    ASSERT_TRUE(s.ok()) << c.text << ": " << s;
    EXPECT_EQ(cap.channel(), c.want) << c.text;
  }
  // Multi-word enum type: TimerKind -> TIMER_KIND_ prefix.
  tailor::v1::Timer timer;
  ASSERT_TRUE(Parse("kind: cart_reminder", &timer).ok());
  EXPECT_EQ(timer.kind(), tailor::v1::TIMER_KIND_CART_REMINDER);
  ASSERT_TRUE(Parse("kind: deferred-decision", &timer).ok());
  EXPECT_EQ(timer.kind(), tailor::v1::TIMER_KIND_DEFERRED_DECISION);
}

TEST(ParseYamlIntoProtoTest, UnknownEnumValueNamesFieldAndChoices) {
  RulesConfig rules;
  absl::Status s = Parse("frequency_caps:\n  - channel: sms\n", &rules);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()),
              StartsWith("frequency_caps[0].channel: "));
  EXPECT_THAT(std::string(s.message()), HasSubstr("\"sms\""));
  EXPECT_THAT(std::string(s.message()), HasSubstr("CHANNEL_PUSH"));
  // 99 is no Channel number.
  EXPECT_THAT(
      std::string(Parse("frequency_caps: [{channel: 99}]", &rules).message()),
      StartsWith("frequency_caps[0].channel: "));
}

TEST(ParseYamlIntoProtoTest, WrongScalarNamesFieldPath) {
  RulesConfig rules;
  absl::Status s =
      Parse("abandoned_cart:\n  first_reminder_minutes: soon\n", &rules);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(s.message()),
            "abandoned_cart.first_reminder_minutes: expected an integer, got "
            "\"soon\" (line 2)");
}

TEST(ParseYamlIntoProtoTest, UnknownFieldNamesFullPath) {
  RulesConfig rules;
  absl::Status s =
      Parse("abandoned_cart:\n  frist_reminder_minutes: 30\n", &rules);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()),
              StartsWith("unknown field "
                         "\"abandoned_cart.frist_reminder_minutes\""));
  EXPECT_THAT(std::string(Parse("colour: red", &rules).message()),
              StartsWith("unknown field \"colour\""));
}

TEST(ParseYamlIntoProtoTest, EachKindOfErrorNamesTheField) {
  struct Case {
    const char* yaml;
    const char* want_prefix;
    const char* want_reason;
  };
  const Case cases[] = {
      {"max_recommendations: 3.5",
       "max_recommendations: ", "expected an integer"},
      {"max_recommendations: 99999999999",
       "max_recommendations: ", "out of range for a 32-bit integer"},
      {"profile:\n  affinity_half_life_hours: long",
       "profile.affinity_half_life_hours: ", "expected a number"},
      {"abandoned_cart:\n  common:\n    enabled: maybe",
       "abandoned_cart.common.enabled: ", "expected true or false"},
      {"profile: 5", "profile: ", "expected a mapping"},
      {"frequency_caps: {channel: push}",
       "frequency_caps: ", "expected a list"},
      {"frequency_caps: [7]", "frequency_caps[0]: ", "expected a mapping"},
      {"loyalty_coupon:\n  order_tiers: [3, ten]",
       "loyalty_coupon.order_tiers[1]: ", "expected an integer, got \"ten\""},
      {"default_currency: [PLN]",
       "default_currency: ", "expected a single value, got a list"},
      {"max_recommendations: 3\nmax_recommendations: 4",
       "max_recommendations: ", "set twice"},
  };
  for (const Case& c : cases) {
    RulesConfig rules;
    absl::Status s = Parse(c.yaml, &rules);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.yaml;
    EXPECT_THAT(std::string(s.message()), StartsWith(c.want_prefix)) << c.yaml;
    EXPECT_THAT(std::string(s.message()), HasSubstr(c.want_reason)) << c.yaml;
  }
}

TEST(ParseYamlIntoProtoTest, BoolSpellings) {
  tailor::v1::CampaignCommon common;
  for (const char* yes : {"true", "True", "yes", "on"}) {
    ASSERT_TRUE(Parse(std::string("enabled: ") + yes, &common).ok()) << yes;
    EXPECT_TRUE(common.enabled()) << yes;
  }
  for (const char* no : {"false", "FALSE", "no", "off"}) {
    ASSERT_TRUE(Parse(std::string("enabled: ") + no, &common).ok()) << no;
    EXPECT_FALSE(common.enabled()) << no;
  }
}

TEST(ParseYamlIntoProtoTest, NullLeavesFieldUnsetAndParseClearsFirst) {
  RulesConfig rules;
  rules.set_default_currency("stale");
  ASSERT_TRUE(Parse("max_recommendations: ~\nquiet_hours:\n", &rules).ok());
  EXPECT_EQ(rules.default_currency(), "");
  EXPECT_EQ(rules.max_recommendations(), 0);
  EXPECT_FALSE(rules.has_quiet_hours());
  ASSERT_TRUE(Parse("", &rules).ok());
  ASSERT_TRUE(Parse("# only a comment\n", &rules).ok());
}

TEST(ParseYamlIntoProtoTest, NumbersInOtherForms) {
  RulesConfig rules;
  ASSERT_TRUE(Parse("abandoned_cart:\n  coupon_min_cart_value_minor: 10_000\n"
                    "  discount_waiter_share: .5\nprofile:\n  top_k: 0x10\n",
                    &rules)
                  .ok());
  EXPECT_EQ(rules.abandoned_cart().coupon_min_cart_value_minor(), 10000);
  EXPECT_DOUBLE_EQ(rules.abandoned_cart().discount_waiter_share(), 0.5);
  EXPECT_EQ(rules.profile().top_k(), 16);
  ASSERT_TRUE(Parse("max_recommendations: -3", &rules).ok());
  EXPECT_EQ(rules.max_recommendations(), -3);
}

TEST(ParseYamlIntoProtoTest, TopLevelMustBeAMapping) {
  RulesConfig rules;
  absl::Status s = Parse("- a\n- b\n", &rules);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("expected a mapping at the top level"));
}

TEST(ParseYamlIntoProtoTest, SyntaxErrorNamesLine) {
  RulesConfig rules;
  absl::Status s = Parse("profile:\n  top_k: [1, 2\n", &rules);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), StartsWith("line "));
}

TEST(ParseYamlIntoProtoTest, OneofAllowsOneMember) {
  tailor::v1::Event event;
  ASSERT_TRUE(
      Parse("customer_id: c1\nerasure_requested: {request_id: r1}", &event)
          .ok());
  EXPECT_EQ(event.erasure_requested().request_id(), "r1");
  absl::Status s =
      Parse("page_view: {}\nerasure_requested: {request_id: r1}", &event);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()),
              StartsWith("erasure_requested: only one of "
                         "\"payload\""));
}

TEST(ParseYamlIntoProtoTest, BytesAreBase64) {
  tailor::v1::Timer timer;
  ASSERT_TRUE(Parse("deferred: aGVsbG8=", &timer).ok());
  EXPECT_EQ(timer.deferred(), "hello");
  EXPECT_THAT(std::string(Parse("deferred: '*not base64*'", &timer).message()),
              StartsWith("deferred: expected base64 bytes"));
}

TEST(ParseYamlIntoProtoTest, StringsMustBeUtf8) {
  RulesConfig rules;
  ASSERT_TRUE(Parse("default_currency: \"z\u0142\"", &rules).ok());
  EXPECT_EQ(rules.default_currency(), "z\xc5\x82");
  for (const char* bad :
       {"\xff", "\xc5", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80"}) {
    EXPECT_THAT(
        std::string(
            Parse(absl::StrCat("default_currency: a", bad), &rules).message()),
        StartsWith("default_currency: expected UTF-8 text"))
        << absl::CHexEscape(bad);
  }
}

// Field types the tailor schemas do not use yet, on a message built at run
// time.
class DynamicTypesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    google::protobuf::FileDescriptorProto file;
    ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
        R"pb(
          name: "dyn.proto"
          package: "dyn"
          syntax: "proto3"
          message_type {
            name: "M"
            field {
              name: "u32"
              number: 1
              type: TYPE_UINT32
              label: LABEL_OPTIONAL
            }
            field {
              name: "u64"
              number: 2
              type: TYPE_UINT64
              label: LABEL_OPTIONAL
            }
            field { name: "f" number: 3 type: TYPE_FLOAT label: LABEL_OPTIONAL }
            field {
              name: "labels"
              number: 4
              type: TYPE_MESSAGE
              type_name: ".dyn.M.LabelsEntry"
              label: LABEL_REPEATED
              json_name: "labels"
            }
            nested_type {
              name: "LabelsEntry"
              options { map_entry: true }
              field {
                name: "key"
                number: 1
                type: TYPE_STRING
                label: LABEL_OPTIONAL
              }
              field {
                name: "value"
                number: 2
                type: TYPE_INT64
                label: LABEL_OPTIONAL
              }
            }
          }
        )pb",
        &file));
    const google::protobuf::FileDescriptor* fd = pool_.BuildFile(file);
    ASSERT_NE(fd, nullptr);
    descriptor_ = fd->FindMessageTypeByName("M");
    message_.reset(factory_.GetPrototype(descriptor_)->New());
  }

  google::protobuf::DescriptorPool pool_;
  google::protobuf::DynamicMessageFactory factory_;
  const google::protobuf::Descriptor* descriptor_ = nullptr;
  std::unique_ptr<google::protobuf::Message> message_;
};

TEST_F(DynamicTypesTest, UnsignedFloatAndMap) {
  absl::Status s = Parse(
      "u32: 4000000000\nu64: 18446744073709551615\nf: 1.5\n"
      "labels: {a: 1, b: 2}\n",
      message_.get());
  ASSERT_TRUE(s.ok()) << s;
  std::string text;
  google::protobuf::TextFormat::PrintToString(*message_, &text);
  EXPECT_THAT(text, HasSubstr("u32: 4000000000"));
  EXPECT_THAT(text, HasSubstr("u64: 18446744073709551615"));
  EXPECT_THAT(text, HasSubstr("f: 1.5"));
  EXPECT_THAT(text, HasSubstr("key: \"b\"\n  value: 2"));

  EXPECT_THAT(std::string(Parse("u32: -1", message_.get()).message()),
              StartsWith("u32: expected a non-negative 32-bit integer"));
  EXPECT_THAT(std::string(Parse("f: 1e300", message_.get()).message()),
              StartsWith("f: value 1e300 is out of range for a float"));
  EXPECT_THAT(std::string(Parse("labels: {a: x}", message_.get()).message()),
              StartsWith("labels[\"a\"]: expected an integer"));
  EXPECT_THAT(std::string(Parse("labels: [1]", message_.get()).message()),
              StartsWith("labels: expected a mapping"));
}

class YamlFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "/yaml_proto_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    unlink(path_.c_str());
    rmdir(dir_.c_str());
  }
  void Write(absl::string_view text) {
    path_ = dir_ + "/rules.yaml";
    std::ofstream(path_) << text;
  }
  std::string dir_;
  std::string path_;
};

TEST_F(YamlFileTest, LoadsFileAndPrefixesErrorsWithPath) {
  Write("abandoned_cart:\n  first_reminder_minutes: 30\n");
  RulesConfig rules;
  ASSERT_TRUE(LoadYamlFileIntoProto(path_, &rules).ok());
  EXPECT_EQ(rules.abandoned_cart().first_reminder_minutes(), 30);

  Write("abandoned_cart:\n  first_reminder_minutes: soon\n");
  absl::Status s = LoadYamlFileIntoProto(path_, &rules);
  EXPECT_EQ(std::string(s.message()),
            path_ +
                ": abandoned_cart.first_reminder_minutes: expected an "
                "integer, got \"soon\" (line 2)");
}

TEST_F(YamlFileTest, MissingFileIsNotFound) {
  RulesConfig rules;
  absl::Status s = LoadYamlFileIntoProto(dir_ + "/absent.yaml", &rules);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(s.message()), HasSubstr("absent.yaml"));
}

}  // namespace
}  // namespace tailor::config
