#include "libs/base/stable_hash.h"

#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "absl/strings/str_format.h"

namespace tailor {
namespace {

template <typename State, typename UpdateFn>
void Feed(State* state, UpdateFn update,
          std::initializer_list<absl::string_view> parts) {
  for (absl::string_view part : parts) {
    const uint64_t len = part.size();
    update(state, &len, sizeof(len));
    update(state, part.data(), part.size());
  }
}

}  // namespace

uint64_t StableHash64(std::initializer_list<absl::string_view> parts) {
  XXH3_state_t state;
  XXH3_64bits_reset(&state);
  Feed(&state, XXH3_64bits_update, parts);
  return XXH3_64bits_digest(&state);
}

std::string StableHashHex128(std::initializer_list<absl::string_view> parts) {
  XXH3_state_t state;
  XXH3_128bits_reset(&state);
  Feed(&state, XXH3_128bits_update, parts);
  const XXH128_hash_t h = XXH3_128bits_digest(&state);
  return absl::StrFormat("%016x%016x", h.high64, h.low64);
}

double StableUnitInterval(std::initializer_list<absl::string_view> parts) {
  return static_cast<double>(StableHash64(parts) >> 11) * 0x1.0p-53;
}

}  // namespace tailor
