#include "libs/base/murmur2.h"

#include <cstddef>

namespace tailor {

uint32_t KafkaMurmur2(absl::string_view data) {
  constexpr uint32_t kSeed = 0x9747b28c;
  constexpr uint32_t kM = 0x5bd1e995;
  constexpr int kR = 24;
  const auto byte = [&](size_t i) {
    return static_cast<uint32_t>(static_cast<unsigned char>(data[i]));
  };
  const size_t length = data.size();
  uint32_t h = kSeed ^ static_cast<uint32_t>(length);
  const size_t whole = length & ~size_t{3};
  for (size_t i = 0; i < whole; i += 4) {
    uint32_t k = byte(i) | (byte(i + 1) << 8) | (byte(i + 2) << 16) |
                 (byte(i + 3) << 24);
    k *= kM;
    k ^= k >> kR;
    k *= kM;
    h *= kM;
    h ^= k;
  }
  switch (length & 3) {
    case 3:
      h ^= byte(whole + 2) << 16;
      [[fallthrough]];
    case 2:
      h ^= byte(whole + 1) << 8;
      [[fallthrough]];
    case 1:
      h ^= byte(whole);
      h *= kM;
  }
  h ^= h >> 13;
  h *= kM;
  h ^= h >> 15;
  return h;
}

int32_t KafkaPartitionForKey(absl::string_view key, int32_t partition_count) {
  return static_cast<int32_t>((KafkaMurmur2(key) & 0x7fffffff) %
                              static_cast<uint32_t>(partition_count));
}

}  // namespace tailor
