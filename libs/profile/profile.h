// File: profile.h
// Umbrella header of tailor::profile: event validation (validate.h), the pure
// profile fold (fold.h) and the set of purchased products (purchases.h).
// Include the narrower header where one suffices.
#ifndef TAILOR_LIBS_PROFILE_PROFILE_H_
#define TAILOR_LIBS_PROFILE_PROFILE_H_

#include "libs/profile/attribution.h"
#include "libs/profile/fold.h"
#include "libs/profile/limits.h"
#include "libs/profile/purchases.h"
#include "libs/profile/validate.h"

#endif  // TAILOR_LIBS_PROFILE_PROFILE_H_
