// File: internal.h
// Internals of the decision engine shared by its .cc files: the precomputed
// rules (Engine::Impl), candidate decisions and small pure helpers. Not part
// of the public API; tests may use the pure helpers.
#ifndef TAILOR_LIBS_DECIDE_INTERNAL_H_
#define TAILOR_LIBS_DECIDE_INTERNAL_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "libs/decide/engine.h"

namespace tailor::decide {
namespace internal {

inline constexpr int64_t kMinuteMs = 60'000;
inline constexpr int64_t kHourMs = 60 * kMinuteMs;
inline constexpr int64_t kDayMs = 24 * kHourMs;
inline constexpr int kDefaultMaxRecommendations = 3;
inline constexpr double kDefaultHalfLifeHours = 72.0;
// human_escalation.pause_automation_days when the rules leave it unset.
inline constexpr int64_t kDefaultPauseAutomationDays = 7;

// Suppression reasons (Decision.suppression).
inline constexpr absl::string_view kNoConsent = "no_consent";
inline constexpr absl::string_view kCustomerLimit = "customer_limit";
inline constexpr absl::string_view kCooldown = "cooldown";
inline constexpr absl::string_view kFrequencyCap = "frequency_cap";
inline constexpr absl::string_view kBudgetExhausted = "budget_exhausted";
inline constexpr absl::string_view kEscalatedToAgent = "escalated_to_agent";
inline constexpr absl::string_view kArbitration = "arbitration";
inline constexpr absl::string_view kCouponActive = "coupon_active";
inline constexpr absl::string_view kMessageBudget = "message_budget";
// Control groups of a HOLD_OUT decision (Decision.holdout).
inline constexpr absl::string_view kCampaignHoldout = "campaign";
inline constexpr absl::string_view kGlobalControl = "global_control";

// arbitration.max_active_coupons when the rules leave it unset, and its
// largest allowed value (CustomerProfile.active_coupons holds at most this).
inline constexpr int kDefaultMaxActiveCoupons = 1;
inline constexpr int kMaxActiveCoupons = 16;
// CustomerProfile.messages_sent_at_ms keeps this much history (a local day
// is at most 25 hours) and at most this many entries.
inline constexpr int64_t kMessageHistoryMs = 48 * kHourMs;
inline constexpr int kMaxMessageHistory = 64;

// One campaign as the hot path sees it. Points into Engine::Impl::rules.
struct Campaign {
  const tailor::v1::CampaignCommon* common = nullptr;
  const tailor::v1::CouponSpec* coupon = nullptr;  // Null: no coupon.
  tailor::v1::DecisionKind kind = tailor::v1::DECISION_KIND_UNSPECIFIED;
  tailor::v1::Channel channel = tailor::v1::CHANNEL_UNSPECIFIED;
  std::string salt;                        // common.salt, else common.name.
  std::vector<double> cumulative_weights;  // Empty: no variants.
  // An automated nudge: paused after an escalation is sent (every campaign
  // but human_escalation and service_recovery_coupon).
  bool paused_by_escalation = false;
  // Arbitration rank: lower wins. The index in arbitration.priority, else
  // after every listed campaign in evaluation order.
  int rank = 0;
  // In arbitration.replace_active_coupon: its coupon replaces the oldest
  // active one instead of being suppressed "coupon_active".
  bool replaces_active_coupon = false;

  const std::string& name() const { return common->name(); }
  bool enabled() const { return common->enabled(); }
  // The customer's A/B arm, or nullptr when the campaign has no variants.
  const tailor::v1::Variant* VariantFor(absl::string_view customer_id) const;
  // The arm's template override, else common.template_id.
  const std::string& TemplateFor(absl::string_view customer_id) const;
  // True when the customer is in the holdout group.
  bool HeldOut(absl::string_view customer_id) const;
};

// A decision a rule wants to make, before the guards ran.
struct Candidate {
  const Campaign* campaign = nullptr;
  tailor::v1::Decision decision;  // Everything but action and suppression.
  // What the decision is about (e.g. "session:s1:product:p9") and the one
  // input that triggered it (EventOccurrence / TimerOccurrence): with the
  // campaign and the customer they make the decision id and coupon code.
  std::string trigger;
  std::string occurrence;
  bool has_coupon = false;
  int64_t coupon_value_minor = 0;  // Estimated amount off, for budgets.
  bool coupon_optional = false;    // Budget strips the coupon, not the send.
  int64_t trigger_ref = 0;         // Cart version, for deferred re-checks.
};

// Per-call mutable state.
struct CallState {
  int64_t now_ms = 0;
  tailor::v1::CustomerProfile* profile = nullptr;
  tailor::v1::PartitionState* partition = nullptr;
  Outcome* out = nullptr;
};

// What the guards did with a candidate.
enum class GuardResult { kSent, kHeldOut, kSuppressed, kDeferred };

// --- Pure helpers (helpers.cc) ---------------------------------------------

// The one input that triggers a decision, for its id: an event is
// "event:<event_time_ms>:<event_id>", a fired timer
// "timer:<fire_at_ms>:<timer_id>". Input fields only (no clock, no profile
// counter): a redo or replay of the same input gives the same string, and a
// session id, order id or cart version seen again comes with another one.
std::string EventOccurrence(const tailor::v1::Event& event);
std::string TimerOccurrence(const tailor::v1::Timer& timer);
// Decision id: StableHashHex128({campaign, customer_id, trigger,
// occurrence}), 32 lowercase hex characters.
std::string DecisionId(absl::string_view campaign,
                       absl::string_view customer_id, absl::string_view trigger,
                       absl::string_view occurrence);
// Coupon code: upper-cased alphanumerics of the campaign name (at most 12),
// "-", then 10 Crockford base32 characters of StableHash64({"coupon",
// campaign, customer, trigger, occurrence}). E.g. "FIRSTORDER-7K3M9QX2AB".
std::string CouponCode(absl::string_view campaign,
                       absl::string_view customer_id, absl::string_view trigger,
                       absl::string_view occurrence);
// Score of `a` decayed from a.updated_at_ms to now_ms.
double DecayedScore(const tailor::v1::Affinity& a, double half_life_hours,
                    int64_t now_ms);
// Days since 1970-01-01 UTC (floor).
int64_t EpochDay(int64_t ms);
// If now_ms falls inside the quiet window of `qh` in `zone`, the instant
// (epoch ms) the window ends: local end_hour:00 on the right day; windows may
// wrap midnight; a skipped end hour (DST) maps to the transition instant.
// nullopt when now is outside the window or start_hour == end_hour.
std::optional<int64_t> QuietHoursEnd(const tailor::v1::QuietHours& qh,
                                     const absl::TimeZone& zone,
                                     int64_t now_ms);
// True for a discount-waiter: orders >= 2 and coupon_orders / orders > share.
bool IsDiscountWaiter(const tailor::v1::CustomerProfile& p, double share);
// StableHash64({product_id}), the hash of CustomerProfile.
// purchased_product_hashes (libs/profile computes the same; see
// profile.proto).
uint64_t PurchasedProductHash(absl::string_view product_id);
// True if the product's hash is in the sorted purchased_product_hashes.
bool InPurchasedSet(const tailor::v1::CustomerProfile& p,
                    absl::string_view product_id);
// This partition's share of a shop-wide daily budget: floor(budget / N),
// plus 1 if partition < budget % N, with N = partition_count (0 means 1), so
// the shares of partitions 0..N-1 sum to exactly `budget`. A partition
// outside 0..N-1 gets floor(budget / N). A budget <= 0 (unlimited) is
// returned as is.
int64_t BudgetShare(int64_t budget, const tailor::v1::PartitionState& ps);

const tailor::v1::CampaignState* FindCampaignState(
    const tailor::v1::CustomerProfile& p, absl::string_view campaign);
tailor::v1::CampaignState* MutableCampaignState(tailor::v1::CustomerProfile* p,
                                                absl::string_view campaign);
void AddFact(tailor::v1::Decision* d, absl::string_view name,
             absl::string_view value);
void AddFact(tailor::v1::Decision* d, absl::string_view name, int64_t value);
// Replaces the value of fact `name`, or adds it.
void SetFact(tailor::v1::Decision* d, absl::string_view name, int64_t value);
// Value of fact `name`, or nullptr.
const std::string* FindFact(const tailor::v1::Decision& d,
                            absl::string_view name);

}  // namespace internal

// The precomputed rules. Owned by Engine; immutable after Create.
struct Engine::Impl {
  using Campaign = internal::Campaign;
  using Candidate = internal::Candidate;
  using CallState = internal::CallState;
  using GuardResult = internal::GuardResult;

  struct Cap {
    tailor::v1::Channel channel;
    int32_t max;
    int64_t period_ms;
  };

  tailor::v1::RulesConfig rules;
  absl::TimeZone default_zone;
  std::vector<Cap> caps;
  int max_recommendations = internal::kDefaultMaxRecommendations;
  double half_life_hours = internal::kDefaultHalfLifeHours;
  int64_t signal_horizon_ms = 0;  // 0: no horizon.
  int64_t cart_window_ms = 0;     // abandoned_cart.window_hours.
  // Automated nudges pause this long after an escalation is sent; 0: never.
  int64_t escalation_pause_ms = 0;
  // arbitration.max_active_coupons resolved (unset = 1); 0: no limit.
  int max_active_coupons = internal::kDefaultMaxActiveCoupons;

  Campaign abandoned_cart;
  Campaign browse_abandonment;
  Campaign first_order;
  Campaign cart_threshold;
  Campaign win_back;
  Campaign loyalty;
  Campaign service_recovery;
  Campaign human_escalation;

  // Enabled campaign by name, or nullptr.
  const Campaign* FindCampaign(absl::string_view name) const;

  // --- Campaigns (campaigns.cc) ---
  void OnEvent(const tailor::v1::Event& event, CallState& s) const;
  void OnTimer(const tailor::v1::Timer& timer, CallState& s) const;
  std::optional<Candidate> HumanEscalation(const tailor::v1::Event& event,
                                           const CallState& s) const;
  std::optional<Candidate> ServiceRecovery(const tailor::v1::Event& event,
                                           const CallState& s) const;
  std::optional<Candidate> Loyalty(const tailor::v1::Event& event,
                                   const CallState& s) const;
  std::optional<Candidate> WinBack(const tailor::v1::Event& event,
                                   const CallState& s) const;
  std::optional<Candidate> FirstOrder(const tailor::v1::Event& event,
                                      CallState& s) const;
  std::optional<Candidate> CartThreshold(const tailor::v1::Event& event,
                                         CallState& s) const;
  std::optional<Candidate> BrowseAbandonment(const tailor::v1::Event& event,
                                             CallState& s) const;
  void DeferredDecisionTimer(const tailor::v1::Timer& timer,
                             CallState& s) const;

  // --- Abandoned cart (cart_reminder.cc) ---
  void SetCartTimers(const tailor::v1::Event& event, CallState& s) const;
  void CartReminderTimer(const tailor::v1::Timer& timer, CallState& s) const;
  // True while the cart of version `version` still deserves a reminder: it
  // is not empty, no order ended it, and a line was added inside the window.
  bool CartStillAbandoned(const tailor::v1::CustomerProfile& p, int64_t version,
                          int64_t now_ms) const;
  // Sets the reminder's items and cart_value to the cart lines added inside
  // the window at now_ms, in cart order; the value is theirs alone, in the
  // currency of the first of them. Returns how many lines were left out as
  // older.
  int ListRemindedLines(const tailor::v1::Cart& cart, int64_t now_ms,
                        tailor::v1::CartReminderPayload* payload) const;
  // A deferred reminder fires later than it was made: lists its lines again
  // at now_ms and updates the facts that describe them.
  void RelistRemindedLines(const tailor::v1::Cart& cart, int64_t now_ms,
                           tailor::v1::Decision* d) const;

  // --- Building candidates (campaigns.cc) ---
  // A candidate of `c` about `trigger`, made by `event` or by `timer`: its
  // id, trigger_event_id and occurrence come from that input.
  Candidate NewCandidate(const Campaign& c, const CallState& s,
                         std::string trigger,
                         const tailor::v1::Event& event) const;
  Candidate NewCandidate(const Campaign& c, const CallState& s,
                         std::string trigger,
                         const tailor::v1::Timer& timer) const;
  // Fills the coupon of the candidate's campaign into *coupon (its code from
  // the candidate's trigger and occurrence) and the candidate's budget
  // fields. `basis_minor` is the order value a percentage applies to.
  void FillCoupon(const CallState& s, int64_t basis_minor,
                  tailor::v1::CouponPayload* coupon, Candidate* cand) const;
  // Appends up to max_recommendations product ids (see README.md).
  void Recommend(const tailor::v1::CustomerProfile& p, int64_t now_ms,
                 absl::string_view exclude_product_id,
                 google::protobuf::RepeatedPtrField<std::string>* out) const;

  // --- Arbitration (guards.cc) ---
  // Runs the candidates of one event through the guards in arbitration
  // order (rank, then evaluation order): once one of a channel is sent, held
  // out or deferred, the later ones of that channel are SUPPRESSED
  // "arbitration" naming its decision id.
  void Arbitrate(std::vector<Candidate>& candidates, CallState& s) const;

  // --- Guards (guards.cc) ---
  // Runs guards 2-12 (opt-out is checked by the callers) on `cand`, appends
  // the decision or a deferral timer to s.out and updates the bookkeeping.
  GuardResult Guard(Candidate cand, CallState& s) const;
  // Appends `cand` as SUPPRESSED with `why`; touches no bookkeeping.
  void Suppress(Candidate& cand, absl::string_view why, CallState& s) const;
  const absl::TimeZone& ZoneOf(const tailor::v1::CustomerProfile& p,
                               absl::TimeZone* storage) const;
  // First instant (epoch ms) counted by the daily message budget at now_ms:
  // local midnight in the customer's zone, or now - 24h + 1 (rolling).
  int64_t MessageBudgetStart(const tailor::v1::CustomerProfile& p,
                             int64_t now_ms) const;
};

}  // namespace tailor::decide

#endif  // TAILOR_LIBS_DECIDE_INTERNAL_H_
