// File: murmur2.h
// Kafka's default partitioner hash: murmur2 of the key bytes, as the Java
// client (`Utils.murmur2`, `Utils.toPositive`) and librdkafka's
// `partitioner=murmur2_random` compute it. Every producer of tailor's input
// topics must place a record on KafkaPartitionForKey(key, partitions), so
// that all of one customer's events meet in one task; the pipeline checks it.
#ifndef TAILOR_LIBS_BASE_MURMUR2_H_
#define TAILOR_LIBS_BASE_MURMUR2_H_

#include <cstdint>

#include "absl/strings/string_view.h"

namespace tailor {

// Kafka's murmur2 (seed 0x9747b28c) of `data`, as the bits of Java's int.
uint32_t KafkaMurmur2(absl::string_view data);

// The partition a Java-compatible producer gives `key`:
// (murmur2(key) & 0x7fffffff) % partition_count. `partition_count` > 0.
int32_t KafkaPartitionForKey(absl::string_view key, int32_t partition_count);

}  // namespace tailor

#endif  // TAILOR_LIBS_BASE_MURMUR2_H_
