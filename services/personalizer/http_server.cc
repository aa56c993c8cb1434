#include "services/personalizer/http_server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "prometheus/text_serializer.h"

namespace tailor {
namespace {

struct ResponseDeleter {
  void operator()(MHD_Response* response) const {
    MHD_destroy_response(response);
  }
};
using ResponsePtr = std::unique_ptr<MHD_Response, ResponseDeleter>;

// An IPv4 or IPv6 socket address.
struct SocketAddress {
  sockaddr_storage storage{};
  bool v6 = false;
  sockaddr* get() { return reinterpret_cast<sockaddr*>(&storage); }
};

absl::StatusOr<SocketAddress> ParseAddress(const std::string& address) {
  const auto invalid = [&] {
    return absl::InvalidArgumentError(absl::StrCat(
        "http_address: expected host:port with a numeric host (e.g. "
        "0.0.0.0:8080, 127.0.0.1:0, [::]:8080), got \"",
        address, "\""));
  };
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) return invalid();
  std::string host = address.substr(0, colon);
  int port = 0;
  if (!absl::SimpleAtoi(address.substr(colon + 1), &port) || port < 0 ||
      port > 65535) {
    return invalid();
  }
  SocketAddress out;
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&out.storage);
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) != 1) {
      return invalid();
    }
    out.v6 = true;
    return out;
  }
  auto* v4 = reinterpret_cast<sockaddr_in*>(&out.storage);
  v4->sin_family = AF_INET;
  v4->sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) != 1) return invalid();
  return out;
}

constexpr char kTextPlain[] = "text/plain";
constexpr char kPrometheusText[] = "text/plain; version=0.0.4";
constexpr char kJson[] = "application/json";
constexpr absl::string_view kCustomersPrefix = "/v1/customers/";

MHD_Result Respond(MHD_Connection* connection, unsigned status,
                   const std::string& body,
                   const char* content_type = kTextPlain) {
  ResponsePtr response(MHD_create_response_from_buffer(
      body.size(), const_cast<char*>(body.data()), MHD_RESPMEM_MUST_COPY));
  if (response == nullptr) return MHD_NO;
  MHD_add_response_header(response.get(), MHD_HTTP_HEADER_CONTENT_TYPE,
                          content_type);
  return MHD_queue_response(connection, status, response.get());
}

// Whether the request announces a body (every route is GET).
bool HasBody(MHD_Connection* connection) {
  const char* length = MHD_lookup_connection_value(
      connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
  if (length != nullptr && std::strcmp(length, "0") != 0) return true;
  return MHD_lookup_connection_value(connection, MHD_HEADER_KIND,
                                     MHD_HTTP_HEADER_TRANSFER_ENCODING) !=
         nullptr;
}

// libmicrohttpd's access handler; `self` is the HttpServer.
MHD_Result Handle(void* self, MHD_Connection* connection, const char* url,
                  const char* method, const char* /*version*/,
                  const char* /*upload_data*/, size_t* upload_data_size,
                  void** request_state) {
  // The first call sees the headers only: answer at once, before any body
  // is read (a body is refused, and libmicrohttpd then closes the
  // connection instead of reading it).
  if (*request_state != nullptr) {
    *upload_data_size = 0;
    return MHD_YES;
  }
  *request_state = self;
  const bool get = std::strcmp(method, MHD_HTTP_METHOD_GET) == 0 ||
                   std::strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
  if (!get) {
    return Respond(connection, MHD_HTTP_METHOD_NOT_ALLOWED,
                   "only GET is served\n");
  }
  if (HasBody(connection)) {
    return Respond(connection, MHD_HTTP_CONTENT_TOO_LARGE,
                   "a request body is not accepted\n");
  }
  std::string body;
  const char* content_type = kTextPlain;
  const int status =
      static_cast<HttpServer*>(self)->Route(url, &body, &content_type);
  return Respond(connection, static_cast<unsigned>(status), body, content_type);
}

}  // namespace

void HttpServer::DaemonDeleter::operator()(MHD_Daemon* daemon) const {
  MHD_stop_daemon(daemon);
}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(
    const std::string& address, std::shared_ptr<prometheus::Registry> registry,
    std::function<Readiness()> ready, std::function<Readiness()> alive,
    std::function<void()> before_scrape, CustomerHandler customers,
    const HttpLimits& limits) {
  absl::StatusOr<SocketAddress> bind = ParseAddress(address);
  if (!bind.ok()) return bind.status();
  std::unique_ptr<HttpServer> s(new HttpServer());
  s->registry_ = std::move(registry);
  s->ready_ = std::move(ready);
  s->alive_ = std::move(alive);
  s->before_scrape_ = std::move(before_scrape);
  s->customers_ = std::move(customers);
  unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD;
  if (bind->v6) flags |= MHD_USE_IPv6;
  s->daemon_.reset(MHD_start_daemon(
      flags, /*port=*/0, /*apc=*/nullptr, /*apc_cls=*/nullptr, &Handle, s.get(),
      MHD_OPTION_SOCK_ADDR, bind->get(), MHD_OPTION_CONNECTION_LIMIT,
      limits.connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
      limits.connections_per_ip, MHD_OPTION_CONNECTION_TIMEOUT,
      limits.idle_timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
      limits.request_memory_bytes, MHD_OPTION_LISTEN_BACKLOG_SIZE,
      limits.listen_backlog, MHD_OPTION_END));
  if (s->daemon_ == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("http_address: cannot bind ", address));
  }
  const MHD_DaemonInfo* info =
      MHD_get_daemon_info(s->daemon_.get(), MHD_DAEMON_INFO_BIND_PORT);
  s->port_ = info != nullptr ? info->port : 0;
  return s;
}

HttpServer::~HttpServer() = default;

int HttpServer::Route(const std::string& url, std::string* body,
                      const char** content_type) const {
  if (url == "/metrics") {
    *content_type = kPrometheusText;
    if (before_scrape_) before_scrape_();
    prometheus::TextSerializer serializer;
    *body = serializer.Serialize(registry_->Collect());
    return MHD_HTTP_OK;
  }
  if (url == "/healthz") {
    const Readiness r = alive_();
    *body = r.ready ? std::string("ok\n")
                    : absl::StrCat("stalled: ", r.reason, "\n");
    return r.ready ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE;
  }
  if (url == "/readyz") {
    const Readiness r = ready_();
    *body = r.ready ? std::string("ready\n")
                    : absl::StrCat("not ready: ", r.reason, "\n");
    return r.ready ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE;
  }
  if (customers_ && absl::StartsWith(url, kCustomersPrefix)) {
    *content_type = kJson;
    return customers_(url.substr(kCustomersPrefix.size()), body);
  }
  *body = "not found\n";
  return MHD_HTTP_NOT_FOUND;
}

}  // namespace tailor
