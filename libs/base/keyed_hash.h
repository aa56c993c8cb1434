// File: keyed_hash.h
// A keyed hash for naming a customer where the id itself must not appear
// (the audit topic): HMAC-SHA256, which every language's standard library
// computes, so a holder of the key can find the records of an id it knows
// and nobody else can reverse a guessable id.
#ifndef TAILOR_LIBS_BASE_KEYED_HASH_H_
#define TAILOR_LIBS_BASE_KEYED_HASH_H_

#include <string>

#include "absl/strings/string_view.h"

namespace tailor {

// HMAC-SHA256 of `data` keyed with `key`, as 64 lower-case hex characters.
// In Python: hmac.new(key, data, hashlib.sha256).hexdigest().
std::string KeyedHashHex(absl::string_view key, absl::string_view data);

}  // namespace tailor

#endif  // TAILOR_LIBS_BASE_KEYED_HASH_H_
