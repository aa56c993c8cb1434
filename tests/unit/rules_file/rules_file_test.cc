// Checks that libs/decide/rules.example.yaml, the rules file a shop starts
// from, loads through the same YAML loader the personalizer uses, passes
// validation and is exactly decide::DefaultRules().
#include <string>

#include "absl/status/status.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "libs/config/yaml_proto.h"
#include "libs/decide/rules.h"
#include "tailor/v1/config.pb.h"

#ifndef TAILOR_RULES_EXAMPLE_PATH
#error "TAILOR_RULES_EXAMPLE_PATH must name libs/decide/rules.example.yaml"
#endif

namespace tailor {
namespace {

using google::protobuf::util::MessageDifferencer;
using tailor::v1::RulesConfig;

// The field-by-field differences, for the failure message.
std::string Differences(const RulesConfig& left, const RulesConfig& right) {
  MessageDifferencer differencer;
  std::string report;
  differencer.ReportDifferencesToString(&report);
  differencer.Compare(left, right);
  return report;
}

class RulesExampleFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::Status loaded =
        config::LoadYamlFileIntoProto(TAILOR_RULES_EXAMPLE_PATH, &rules_);
    ASSERT_TRUE(loaded.ok()) << loaded;
  }

  RulesConfig rules_;
};

TEST_F(RulesExampleFileTest, PassesValidation) {
  absl::Status valid = decide::ValidateRules(rules_);
  EXPECT_TRUE(valid.ok()) << valid;
}

TEST_F(RulesExampleFileTest, EqualsDefaultRules) {
  const RulesConfig defaults = decide::DefaultRules();
  EXPECT_TRUE(MessageDifferencer::Equals(defaults, rules_))
      << "rules.example.yaml and DefaultRules() differ (left: DefaultRules(), "
         "right: the file):\n"
      << Differences(defaults, rules_);
}

TEST_F(RulesExampleFileTest, EnablesEveryCampaign) {
  // The example documents every campaign; one left out or disabled would
  // escape ValidateRules (disabled campaigns are not checked).
  EXPECT_TRUE(rules_.abandoned_cart().common().enabled());
  EXPECT_TRUE(rules_.browse_abandonment().common().enabled());
  EXPECT_TRUE(rules_.first_order_coupon().common().enabled());
  EXPECT_TRUE(rules_.cart_threshold_coupon().common().enabled());
  EXPECT_TRUE(rules_.win_back_coupon().common().enabled());
  EXPECT_TRUE(rules_.loyalty_coupon().common().enabled());
  EXPECT_TRUE(rules_.service_recovery_coupon().common().enabled());
  EXPECT_TRUE(rules_.human_escalation().common().enabled());
}

}  // namespace
}  // namespace tailor
