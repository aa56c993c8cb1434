// File: http_server.h
// The personalizer's HTTP endpoints on cpp-httplib: /metrics (Prometheus
// text format), /healthz (the process is alive) and /readyz (partitions
// assigned and the last commit durable).
//
// Owned by main(); serves on its own thread until destroyed.
#ifndef TAILOR_SERVICES_PERSONALIZER_HTTP_SERVER_H_
#define TAILOR_SERVICES_PERSONALIZER_HTTP_SERVER_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "prometheus/registry.h"

namespace httplib {
class Server;
}

namespace tailor {

class HttpServer {
 public:
  // Binds `address` ("host:port"; port 0 picks a free one) and starts serving.
  // `before_scrape` runs on the HTTP thread before /metrics is rendered.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(
      const std::string& address,
      std::shared_ptr<prometheus::Registry> registry,
      std::function<bool()> ready, std::function<void()> before_scrape);
  ~HttpServer();
  int port() const { return port_; }

 private:
  HttpServer() = default;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace tailor

#endif  // TAILOR_SERVICES_PERSONALIZER_HTTP_SERVER_H_
