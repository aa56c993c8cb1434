// File: responder.h
// Simulated customers who respond to tailor's decisions, for the closed-loop
// simulation (loadgen --respond): with configured probabilities per
// campaign, a customer who got a SEND opens the push, places an order
// (with the decision's coupon, if it carried one, followed by its
// coupon_redeemed), and a customer held out (HOLD_OUT) places an order at
// the campaign's base rate, as if nobody had nudged them. The effect a
// campaign is given is the uplift tailor's report should find.
//
// Deterministic and I/O-free: every draw is a stable hash of (seed,
// decision_id, what), so the responses do not depend on the order in which
// decisions are read, and a decision read twice gets the same responses.
#ifndef TAILOR_TOOLS_LOADGEN_RESPONDER_H_
#define TAILOR_TOOLS_LOADGEN_RESPONDER_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tailor/v1/decision.pb.h"
#include "tailor/v1/events.pb.h"

namespace tailor::loadgen {

// How the customers of one campaign respond; probabilities in [0, 1].
struct CampaignResponse {
  double open = 0;     // A sent push or cart reminder is opened.
  double treated = 0;  // A customer who got a SEND places an order.
  double base = 0;     // A held-out customer places an order.
};

struct ResponderOptions {
  // By campaign name; `fallback` for the others (none: they do not respond).
  std::map<std::string, CampaignResponse> campaigns;
  std::optional<CampaignResponse> fallback;
  uint64_t seed = 1;
  int64_t open_after_ms = 10 * 60'000;   // Shop time to the open.
  int64_t order_after_ms = 90 * 60'000;  // Shop time to the order.
  int64_t order_value_minor = 15'000;    // Total of each order.
  std::string currency = "PLN";
};

// Parses "name:open=0.3,treated=0.08,base=0.05;*:treated=0.02" (campaign
// "*" is the fallback; a missing key is 0) into options->campaigns and
// options->fallback. Errors name the part that is wrong.
[[nodiscard]] absl::Status ParseResponses(absl::string_view spec,
                                          ResponderOptions* options);

// One event of a response and the input topic it belongs on.
struct Response {
  tailor::v1::EventTopic topic = tailor::v1::EVENT_TOPIC_UNSPECIFIED;
  tailor::v1::Event event;
};

class Responder {
 public:
  explicit Responder(ResponderOptions options);

  // The events the decision's customer produces in response (event times
  // after decision.created_at_ms), appended to *out in time order; nothing
  // for a SUPPRESSED decision or a campaign without a response.
  void Respond(const tailor::v1::Decision& decision,
               std::vector<Response>* out) const;

 private:
  // A uniform draw in [0, 1) for (decision, what).
  double Draw(const tailor::v1::Decision& decision,
              absl::string_view what) const;

  ResponderOptions options_;
};

}  // namespace tailor::loadgen

#endif  // TAILOR_TOOLS_LOADGEN_RESPONDER_H_
