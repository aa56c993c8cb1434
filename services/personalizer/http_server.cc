#include "services/personalizer/http_server.h"

#include <httplib.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "prometheus/text_serializer.h"

namespace tailor {

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(
    const std::string& address, std::shared_ptr<prometheus::Registry> registry,
    std::function<bool()> ready, std::function<void()> before_scrape) {
  // "host:port" or "[v6-host]:port".
  const size_t colon = address.rfind(':');
  std::string host = colon == std::string::npos ? "" : address.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  int port = 0;
  if (host.empty() || colon == std::string::npos ||
      !absl::SimpleAtoi(address.substr(colon + 1), &port) || port < 0 ||
      port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "http_address: expected host:port, got \"", address, "\""));
  }
  std::unique_ptr<HttpServer> s(new HttpServer());
  s->server_ = std::make_unique<httplib::Server>();
  s->server_->Get("/metrics",
                  [registry, before_scrape](const httplib::Request&,
                                            httplib::Response& res) {
                    if (before_scrape) before_scrape();
                    prometheus::TextSerializer serializer;
                    res.set_content(serializer.Serialize(registry->Collect()),
                                    "text/plain; version=0.0.4");
                  });
  s->server_->Get("/healthz",
                  [](const httplib::Request&, httplib::Response& res) {
                    res.set_content("ok\n", "text/plain");
                  });
  s->server_->Get(
      "/readyz", [ready](const httplib::Request&, httplib::Response& res) {
        const bool ok = ready();
        res.status = ok ? 200 : 503;
        res.set_content(ok ? "ready\n" : "not ready\n", "text/plain");
      });
  if (port == 0) {
    s->port_ = s->server_->bind_to_any_port(host);
    if (s->port_ < 0) {
      return absl::UnavailableError(
          absl::StrCat("http_address: cannot bind ", address));
    }
  } else if (!s->server_->bind_to_port(host, port)) {
    return absl::UnavailableError(
        absl::StrCat("http_address: cannot bind ", address));
  } else {
    s->port_ = port;
  }
  s->thread_ =
      std::thread([srv = s->server_.get()] { srv->listen_after_bind(); });
  return s;
}

HttpServer::~HttpServer() {
  if (server_ != nullptr) server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace tailor
