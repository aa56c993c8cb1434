// File: types.h
// Strong types for values that are easy to swap: partitions, offsets and
// event times. Each wraps one integer and converts only explicitly.
#ifndef TAILOR_LIBS_BASE_TYPES_H_
#define TAILOR_LIBS_BASE_TYPES_H_

#include <compare>
#include <cstdint>

namespace tailor {

template <typename T, typename Tag>
class NamedType {
 public:
  constexpr NamedType() = default;
  constexpr explicit NamedType(T value) : value_(value) {}
  constexpr T value() const { return value_; }
  constexpr auto operator<=>(const NamedType&) const = default;
  template <typename H>
  friend H AbslHashValue(H h, NamedType v) {
    return H::combine(std::move(h), v.value_);
  }

 private:
  T value_{};
};

// A Kafka partition number.
using PartitionId = NamedType<int32_t, struct PartitionIdTag>;
// A Kafka offset.
using Offset = NamedType<int64_t, struct OffsetTag>;
// Event time: Unix epoch milliseconds.
using EventTimeMs = NamedType<int64_t, struct EventTimeMsTag>;

}  // namespace tailor

#endif  // TAILOR_LIBS_BASE_TYPES_H_
