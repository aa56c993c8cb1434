// File: customer_api.h
// The admin HTTP API for one customer (customer_api in the service config):
//
//   GET /v1/customers/{id}          {customer_id, partition, source,
//                                    profile, pending_timers}
//   GET /v1/customers/{id}/export   the same with exported_at and what it
//                                    leaves out (art. 15 access to the part
//                                    this instance holds; tailor-ops export
//                                    adds decisions and dead letters)
//
// Read from the durable state (RocksDB, as of the last state write) of the
// partitions this instance owns, from the HTTP thread; the pipeline thread
// is never waited for (Pipeline::ReadOwnedProfile). 404 with a JSON error
// for a customer of another instance's partition, or one without a profile;
// 400 for an id that is not one (empty, over 128 bytes, control bytes).
#ifndef TAILOR_SERVICES_PERSONALIZER_CUSTOMER_API_H_
#define TAILOR_SERVICES_PERSONALIZER_CUSTOMER_API_H_

#include <string>

#include "libs/pipeline/pipeline.h"

namespace tailor {

// Answers /v1/customers/<rest>; `pipeline` must outlive the calls.
int ServeCustomer(const pipeline::Pipeline& pipeline, const std::string& rest,
                  std::string* body);

}  // namespace tailor

#endif  // TAILOR_SERVICES_PERSONALIZER_CUSTOMER_API_H_
