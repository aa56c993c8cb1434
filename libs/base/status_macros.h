// File: status_macros.h
// Early-return helpers for absl::Status and absl::StatusOr.
#ifndef TAILOR_LIBS_BASE_STATUS_MACROS_H_
#define TAILOR_LIBS_BASE_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define TAILOR_CONCAT_INNER_(a, b) a##b
#define TAILOR_CONCAT_(a, b) TAILOR_CONCAT_INNER_(a, b)

// Returns `expr` from the current function if it is not OK.
#define TAILOR_RETURN_IF_ERROR(expr)                 \
  do {                                               \
    ::absl::Status _tailor_status = (expr);          \
    if (!_tailor_status.ok()) return _tailor_status; \
  } while (0)

// `TAILOR_ASSIGN_OR_RETURN(auto x, MakeX());` assigns the value of a
// StatusOr or returns its error.
#define TAILOR_ASSIGN_OR_RETURN(lhs, expr)                                  \
  TAILOR_ASSIGN_OR_RETURN_IMPL_(TAILOR_CONCAT_(_tailor_or_, __LINE__), lhs, \
                                expr)
#define TAILOR_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) return std::move(tmp).status();      \
  lhs = std::move(tmp).value()

namespace tailor {

// Marks an error as deliberately ignored; grep for IgnoreError to find them.
inline void IgnoreError(const absl::Status&) {}

}  // namespace tailor

#endif  // TAILOR_LIBS_BASE_STATUS_MACROS_H_
