// File: attribution.h
// Attribution of what a customer did to the decisions tailor made for them
// (the "Measuring" section of the README). A profile remembers its last
// decisions (CustomerProfile.recent_decisions); an input event is matched
// against them and yields tailor.v1.Outcome records:
//   push_opened(decision_id)   -> OPEN of that decision (SEND), once;
//   coupon_redeemed(code)      -> REDEMPTION of the decision that carried the
//                                 code (SEND), once per coupon;
//   order_placed               -> REDEMPTION when it names such a coupon
//                                 (once), and one CONVERSION: to the coupon's
//                                 decision when the order is inside its
//                                 window, else to the latest decision (SEND
//                                 or HOLD_OUT) with created_at <= order time
//                                 <= converts_until (last touch).
// Pure functions of (profile, event, decision): no I/O, no clock.
#ifndef TAILOR_LIBS_PROFILE_ATTRIBUTION_H_
#define TAILOR_LIBS_PROFILE_ATTRIBUTION_H_

#include <cstdint>
#include <string>
#include <vector>

#include "tailor/v1/decision.pb.h"
#include "tailor/v1/events.pb.h"
#include "tailor/v1/outcome.pb.h"
#include "tailor/v1/profile.pb.h"

namespace tailor::profile {

// Remembers `decision` in profile->recent_decisions when it is SEND or
// HOLD_OUT (a suppressed decision reached no one and held no one out):
// orders up to created_at_ms + conversion_window_ms can be its conversions.
// An entry of the same decision_id is replaced (a redo gives the same
// entry); past kMaxRecentDecisions (limits.h) the oldest entry goes.
void RememberDecision(const tailor::v1::Decision& decision,
                      int64_t conversion_window_ms,
                      tailor::v1::CustomerProfile* profile);

// Attributes a valid event of the profile's customer to its recent
// decisions (see the file comment). Appends the outcomes to *out and marks
// the entries it used (opened, redeemed), so a second push_opened of the
// same decision or a coupon_redeemed after the order that used the coupon
// gives nothing. Other events give nothing, and so does every event of a
// customer who objects to profiling (profiling_opt_out): not measured
// either.
void Attribute(const tailor::v1::Event& event,
               tailor::v1::CustomerProfile* profile,
               std::vector<tailor::v1::Outcome>* out);

// The outcome id: StableHashHex128({"outcome", decision_id, outcome kind
// number, event_id, event_time_ms}).
std::string OutcomeId(const std::string& decision_id,
                      tailor::v1::OutcomeKind kind,
                      const tailor::v1::Event& event);

}  // namespace tailor::profile

#endif  // TAILOR_LIBS_PROFILE_ATTRIBUTION_H_
