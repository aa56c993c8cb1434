// File: shopper_sim.h
// A deterministic, seeded generator of synthetic shoppers for load tests and
// benchmarks: sessions of views, searches, carts, checkouts and orders by a
// skewed population of customers, plus consent and feedback events. No I/O.
#ifndef TAILOR_TOOLS_LOADGEN_SHOPPER_SIM_H_
#define TAILOR_TOOLS_LOADGEN_SHOPPER_SIM_H_

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "tailor/v1/events.pb.h"

namespace tailor::loadgen {

struct ShopperSimOptions {
  int64_t customers = 1'000'000;  // Population size.
  double skew = 1.1;  // Zipf exponent of session starts per customer.
  uint64_t seed = 1;
  int64_t products = 50'000;  // Catalogue size.
  int32_t categories = 400;   // Leaf categories.
  std::string currency = "PLN";
  // At most this many sessions are in progress at once; this bounds the
  // simulator's memory whatever the population size.
  int32_t max_active_sessions = 20'000;
  // Share of NextMessage() output that is malformed, in [0, 1].
  double malformed_share = 0.0;
  // Chance, in [0, 1], that a returning customer's session starts with an
  // erasure request (which ends the session and forgets the customer).
  double erasure_share = 0.0002;
};

// Ways a message can be malformed.
enum class MalformedKind {
  kRandomBytes,        // Not a protobuf Event at all.
  kMissingCustomerId,  // Valid Event without customer_id.
  kAbsurdTimestamp,    // event_time_ms in 1970 or in 2100.
  kWrongTopic,         // Valid Event sent to a topic its payload is not for.
};

// One message ready to produce.
struct SimMessage {
  tailor::v1::EventTopic topic = tailor::v1::EVENT_TOPIC_UNSPECIFIED;
  std::string key;    // customer_id (may be empty for malformed ones).
  std::string value;  // Serialized Event, or garbage for malformed ones.
  bool malformed = false;
};

// Generates events. Owned by one caller; not thread-safe (use one instance per
// thread, with different seeds). Same options => same sequence of events for
// the same sequence of `now_ms` values.
class ShopperSim {
 public:
  explicit ShopperSim(ShopperSimOptions options);

  // Fills *out with the next event (event_time_ms = now_ms) and returns the
  // topic it belongs on (EVENT_TOPIC_CLICKSTREAM / ORDERS / PRIVACY). A
  // customer's events are causally ordered when now_ms does not decrease.
  tailor::v1::EventTopic Next(int64_t now_ms, tailor::v1::Event* out);

  // A malformed message of the given kind (its topic says where to send it).
  SimMessage MakeMalformed(MalformedKind kind, int64_t now_ms);

  // The next message: malformed with probability options.malformed_share
  // (kind chosen at random), else a serialized Next() event.
  SimMessage NextMessage(int64_t now_ms);

  // Sessions in progress now; never more than options().max_active_sessions.
  size_t active_sessions() const { return active_.size(); }
  // Recent orders remembered for follow-up events; bounded.
  size_t pending_orders() const { return orders_.size(); }
  const ShopperSimOptions& options() const { return options_; }

  // "c-<index>" for a customer index in [0, customers).
  static std::string CustomerId(int64_t index);

 private:
  // Zipf-distributed ranks in [1, n] by rejection-inversion (no tables).
  class Zipf {
   public:
    Zipf(int64_t n, double exponent);
    int64_t Sample(std::mt19937_64& rng) const;

   private:
    double H(double x) const;
    double HIntegral(double x) const;
    double HIntegralInverse(double x) const;
    int64_t n_;
    double s_;
    double h_integral_x1_;
    double h_integral_n_;
    double threshold_;
  };

  enum class Stage : uint8_t {
    kStart,
    kOpen,
    kBrowse,
    kCheckout,
    kOrder,
    kCoupon
  };

  struct CartLine {
    int64_t product;
    int32_t quantity;
  };

  struct Session {
    int64_t customer = 0;
    uint64_t number = 0;  // For the session id.
    Stage stage = Stage::kStart;
    bool first_visit = false;
    bool use_coupon = false;
    int32_t browse_left = 0;
    int64_t last_product = -1;
    tailor::v1::DeviceClass device = tailor::v1::DEVICE_CLASS_UNSPECIFIED;
    std::vector<CartLine> cart;
    std::string order_id;
    std::string coupon_code;
  };

  enum class OrderState : uint8_t { kPlaced, kDelivered };
  struct PastOrder {
    int64_t customer;
    std::string order_id;
    std::vector<CartLine> items;
    OrderState state;
  };

  double Uniform();               // [0, 1)
  int64_t UniformInt(int64_t n);  // [0, n)
  bool Chance(double p) { return Uniform() < p; }

  void Begin(tailor::v1::Event* out, int64_t now_ms, const Session& s);
  void BeginForCustomer(tailor::v1::Event* out, int64_t now_ms,
                        int64_t customer);
  void FillContext(tailor::v1::Context* ctx, int64_t customer,
                   tailor::v1::DeviceClass device, const std::string& session);
  tailor::v1::EventTopic Step(Session& s, int64_t now_ms,
                              tailor::v1::Event* out, bool* done);
  tailor::v1::EventTopic Browse(Session& s, tailor::v1::Event* out);
  tailor::v1::EventTopic OrderFollowUp(int64_t now_ms, tailor::v1::Event* out);
  void FillLineItem(tailor::v1::LineItem* item, const CartLine& line) const;
  std::string ProductId(int64_t product) const;
  std::string CategoryId(int64_t product) const;
  int64_t Price(int64_t product) const;
  uint64_t CustomerTrait(int64_t customer, uint64_t salt) const;
  int64_t SampleCustomer();
  void EndSession(size_t slot);
  void Remember(PastOrder order);

  ShopperSimOptions options_;
  std::mt19937_64 rng_;
  Zipf customer_zipf_;
  Zipf product_zipf_;
  uint64_t event_counter_ = 0;
  uint64_t session_counter_ = 0;
  uint64_t order_counter_ = 0;
  std::vector<bool> seen_;       // One bit per customer: appeared before.
  std::vector<Session> active_;  // Sessions in progress (unordered).
  absl::flat_hash_map<int64_t, size_t> active_by_customer_;  // -> slot
  std::vector<PastOrder> orders_;  // Ring of recent orders.
  size_t orders_next_ = 0;
  tailor::v1::Event scratch_;  // Reused by NextMessage().
};

}  // namespace tailor::loadgen

#endif  // TAILOR_TOOLS_LOADGEN_SHOPPER_SIM_H_
