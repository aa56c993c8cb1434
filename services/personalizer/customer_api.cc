#include "services/personalizer/customer_api.h"

#include <microhttpd.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "libs/pipeline/json_view.h"
#include "libs/profile/validate.h"
#include "tailor/v1/profile.pb.h"

namespace tailor {
namespace {

using pipeline::JsonObject;

int Error(int status, absl::string_view message, std::string* body) {
  *body = JsonObject().String("error", message).Done() + "\n";
  return status;
}

}  // namespace

int ServeCustomer(const pipeline::Pipeline& pipeline, const std::string& rest,
                  std::string* body) {
  absl::string_view id = rest;
  const bool export_all = absl::ConsumeSuffix(&id, "/export");
  if (id.empty() || id.size() > static_cast<size_t>(profile::kMaxIdLength) ||
      !pipeline::IsPrintable(id) || absl::StrContains(id, '/')) {
    return Error(MHD_HTTP_BAD_REQUEST,
                 "expected /v1/customers/{id} or /v1/customers/{id}/export "
                 "with a customer id of 1 to 128 printable bytes",
                 body);
  }
  absl::StatusOr<pipeline::Pipeline::OwnedProfile> owned =
      pipeline.ReadOwnedProfile(id);
  if (absl::IsNotFound(owned.status())) {
    return Error(MHD_HTTP_NOT_FOUND,
                 absl::StrCat(owned.status().message(),
                              ": ask the instance that owns it, or use "
                              "tailor-ops profile"),
                 body);
  }
  if (!owned.ok()) {
    return Error(MHD_HTTP_INTERNAL_SERVER_ERROR, owned.status().message(),
                 body);
  }
  tailor::v1::CustomerProfile profile;
  if (!owned->bytes.has_value()) {
    return Error(MHD_HTTP_NOT_FOUND,
                 absl::StrCat("no profile of this customer in partition ",
                              owned->partition, " (never seen, or erased)"),
                 body);
  }
  if (!profile.ParseFromString(*owned->bytes)) {
    return Error(MHD_HTTP_INTERNAL_SERVER_ERROR,
                 "the stored profile does not decode", body);
  }
  JsonObject out;
  out.String("customer_id", id)
      .Int("partition", owned->partition)
      .String("source", "state (as of the last state write)");
  if (export_all) {
    out.String("exported_at", absl::FormatTime(absl::RFC3339_sec, absl::Now(),
                                               absl::UTCTimeZone()))
        .String("not_included",
                "decisions, dead letters and audit records on Kafka: "
                "tailor-ops export");
  }
  pipeline::AddProfileView(profile, &out);
  *body = out.Done() + "\n";
  return MHD_HTTP_OK;
}

}  // namespace tailor
