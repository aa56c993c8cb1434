// File: http_server.h
// The personalizer's HTTP endpoints on libmicrohttpd: /metrics (Prometheus
// text format), /healthz (200 "ok", or 503 "stalled: " and why when the
// pipeline has not made a commit durable for max_stall_ms) and /readyz
// (partitions assigned and the last commit durable: 200 "ready", else 503 "not
// ready: " and the reason).
//
// The port is reachable by anything in the cluster, so it is served from one
// event-driven thread with limits that keep the probes answering whatever
// else connects (HttpLimits): idle connections cost no thread; connections
// are capped in total and per client address; a connection that sends
// nothing for the idle timeout is closed; a request with a body is refused
// without reading it (every route is GET); headers are bounded; Range is
// not served.
//
// With a customer handler (customer_api in the service config) it also
// serves GET /v1/customers/... through it.
//
// Owned by main(); serves on its own thread until destroyed.
#ifndef TAILOR_SERVICES_PERSONALIZER_HTTP_SERVER_H_
#define TAILOR_SERVICES_PERSONALIZER_HTTP_SERVER_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "prometheus/registry.h"

struct MHD_Daemon;

namespace tailor {

// What /readyz answers.
struct Readiness {
  bool ready = false;
  std::string reason;  // why not ready; empty when ready
};

// The limits of the admin server (see the README's Limits table).
struct HttpLimits {
  unsigned connections = 256;               // open connections in total
  unsigned connections_per_ip = 32;         // from one client address
  unsigned idle_timeout_s = 5;              // a silent connection is closed
  size_t request_memory_bytes = 32 * 1024;  // request line and headers
  unsigned listen_backlog = 128;
};

class HttpServer {
 public:
  // Answers a GET of /v1/customers/<rest> (called with <rest>, on the HTTP
  // thread): fills the JSON body and returns the status.
  using CustomerHandler =
      std::function<int(const std::string& rest, std::string* body)>;

  // Binds `address` ("host:port" or "[v6]:port"; port 0 picks a free one)
  // and starts serving. `before_scrape` runs on the HTTP thread before
  // /metrics is rendered. `customers` may be empty (those URLs are 404).
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(
      const std::string& address,
      std::shared_ptr<prometheus::Registry> registry,
      std::function<Readiness()> ready, std::function<Readiness()> alive,
      std::function<void()> before_scrape, CustomerHandler customers = {},
      const HttpLimits& limits = HttpLimits());
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;
  ~HttpServer();  // Stops serving (open connections are closed).
  int port() const { return port_; }
  // Status, body and content type for a GET of `url` (called on the HTTP
  // thread).
  int Route(const std::string& url, std::string* body,
            const char** content_type) const;

 private:
  struct DaemonDeleter {
    void operator()(MHD_Daemon* daemon) const;
  };
  HttpServer() = default;

  std::shared_ptr<prometheus::Registry> registry_;
  std::function<Readiness()> ready_;
  std::function<Readiness()> alive_;
  std::function<void()> before_scrape_;
  CustomerHandler customers_;
  std::unique_ptr<MHD_Daemon, DaemonDeleter> daemon_;
  int port_ = 0;
};

}  // namespace tailor

#endif  // TAILOR_SERVICES_PERSONALIZER_HTTP_SERVER_H_
