// Checks that libs/decide/rules.example.yaml, the rules file a shop starts
// from, loads through the same YAML loader the personalizer uses, passes
// validation and is exactly decide::DefaultRules().
#include <fstream>
#include <sstream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "libs/config/yaml_proto.h"
#include "libs/decide/engine.h"
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

// The example with its arbitration.priority list replaced by `priority`
// (YAML flow sequence).
absl::StatusOr<RulesConfig> ExampleWithPriority(const std::string& priority) {
  std::ifstream in(TAILOR_RULES_EXAMPLE_PATH);
  std::stringstream text;
  text << in.rdbuf();
  std::string yaml = text.str();
  const std::string from = "  priority:\n";
  const size_t at = yaml.find(from);
  if (at == std::string::npos) return absl::NotFoundError("no priority");
  size_t end = at + from.size();
  while (yaml.compare(end, 6, "    - ") == 0) end = yaml.find('\n', end) + 1;
  yaml.replace(at, end - at, "  priority: " + priority + "\n");
  RulesConfig rules;
  absl::Status parsed = config::ParseYamlIntoProto(yaml, &rules);
  if (!parsed.ok()) return parsed;
  return rules;
}

// The winner of a first cart_add of 260.00 PLN by a customer without
// orders: the first-order and the threshold coupon compete on-site.
std::string OnsiteWinner(const RulesConfig& rules) {
  auto engine = decide::Engine::Create(rules);
  if (!engine.ok()) return std::string(engine.status().message());
  tailor::v1::CustomerProfile profile;
  profile.set_customer_id("c-1");
  profile.add_consented_channels(tailor::v1::CHANNEL_ONSITE);
  tailor::v1::Cart* cart = profile.mutable_cart();
  tailor::v1::LineItem* line = cart->add_items();
  line->set_product_id("p1");
  line->set_quantity(1);
  line->mutable_unit_price()->set_minor_units(26000);
  line->mutable_unit_price()->set_currency("PLN");
  cart->mutable_value()->set_minor_units(26000);
  cart->mutable_value()->set_currency("PLN");
  cart->set_version(1);
  cart->set_updated_at_ms(1709629200000);
  cart->add_item_added_at_ms(1709629200000);
  tailor::v1::Event event;
  event.set_event_id("e1");
  event.set_customer_id("c-1");
  event.set_event_time_ms(1709629200000);  // 2024-03-05 10:00 in Warsaw.
  *event.mutable_cart_add()->mutable_item() = *line;
  tailor::v1::PartitionState partition;
  decide::Outcome out;
  (*engine)->OnEvent(event, &profile, &partition, &out);
  std::string sent;
  for (const tailor::v1::Decision& d : out.decisions) {
    if (d.action() == tailor::v1::DECISION_ACTION_SEND ||
        d.action() == tailor::v1::DECISION_ACTION_HOLD_OUT) {
      sent += d.campaign() + ";";
    } else if (d.suppression() != "arbitration") {
      sent += d.campaign() + ":" + d.suppression() + ";";
    }
  }
  return sent;
}

TEST_F(RulesExampleFileTest, PriorityFromTheFileChangesTheWinner) {
  EXPECT_EQ(OnsiteWinner(rules_), "first_order;");
  absl::StatusOr<RulesConfig> swapped =
      ExampleWithPriority("[cart_threshold, first_order]");
  ASSERT_TRUE(swapped.ok()) << swapped.status();
  EXPECT_EQ(OnsiteWinner(*swapped), "cart_threshold;");
}

TEST_F(RulesExampleFileTest, PriorityErrorsNameTheField) {
  absl::StatusOr<RulesConfig> unknown =
      ExampleWithPriority("[cart_threshold, first_ordr]");
  ASSERT_TRUE(unknown.ok()) << unknown.status();
  EXPECT_EQ(decide::ValidateRules(*unknown).message(),
            "arbitration.priority[1]: unknown campaign \"first_ordr\"");
  absl::StatusOr<RulesConfig> twice =
      ExampleWithPriority("[loyalty, win_back, loyalty]");
  ASSERT_TRUE(twice.ok()) << twice.status();
  EXPECT_EQ(decide::ValidateRules(*twice).message(),
            "arbitration.priority[2]: \"loyalty\" is listed twice "
            "(duplicate priority)");
}

}  // namespace
}  // namespace tailor
