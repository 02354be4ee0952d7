#include "locator/http/http_server.h"

#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <stdexcept>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <glog/logging.h>

namespace thrifty::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

std::string HttpOptions::validate() const {
  if (port < 0 || port > 65535) return "--http-port must be in 0..65535";
  if (threads < 1 || threads > 64) return "HTTP threads must be in 1..64";
  if (max_connections < 1) return "HTTP max connections must be >= 1";
  if (max_header_bytes < 256) return "HTTP max header bytes must be >= 256";
  if (read_timeout_ms < 1 || write_timeout_ms < 1) return "HTTP timeouts must be >= 1 ms";
  return {};
}

namespace {

// What the acceptor and every session share.
struct ServerState {
  explicit ServerState(HttpOptions o) : options(std::move(o)) {}

  const HttpOptions options;
  std::map<std::string, HttpServer::Handler> routes;
  std::atomic<int64_t> open{0}, responses_2xx{0}, responses_4xx{0}, responses_5xx{0}, refused{0},
      timeouts{0};
  // Destroyed before the members above (see stop()): pending handlers hold sessions that use them.
  std::unique_ptr<net::io_context> io;
  std::unique_ptr<tcp::acceptor> acceptor;

  void count(int status) {
    if (status >= 500) {
      ++responses_5xx;
    } else if (status >= 400) {
      ++responses_4xx;
    } else {
      ++responses_2xx;
    }
  }
  std::string known_paths() const {
    std::string out;
    for (const auto& [path, handler] : routes) out += (out.empty() ? "" : ", ") + path;
    return out;
  }
  void accept();
};

// One connection: read a request (bounded in size and time), answer it, and again while the
// client keeps the connection alive. Runs on its own strand.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, ServerState& server)
      : stream_(std::move(socket)), server_(server) {
    ++server_.open;
  }
  ~Session() { --server_.open; }

  void start() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read(); });
  }

 private:
  const HttpOptions& options() const { return server_.options; }

  void read() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(options().max_header_bytes));
    parser_->body_limit(options().max_body_bytes);
    // An absolute deadline for the whole request, however slowly its bytes come.
    stream_.expires_after(std::chrono::milliseconds(options().read_timeout_ms));
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = shared_from_this()](beast::error_code ec, std::size_t) {
                        self->on_read(ec);
                      });
  }

  void on_read(beast::error_code ec) {
    if (ec == bhttp::error::end_of_stream) return close();  // the client is done
    if (ec == beast::error::timeout) {
      // Beast closed the socket. A connection idle between requests is merely done; one that
      // began a request and did not finish it in time is counted.
      if (parser_->got_some() || buffer_.size() > 0) ++server_.timeouts;
      return;
    }
    if (ec == bhttp::error::header_limit) {
      return respond_error(431, "request header larger than " +
                                    std::to_string(options().max_header_bytes) + " bytes");
    }
    if (ec == bhttp::error::body_limit) {
      return respond_error(413, "request body larger than " +
                                    std::to_string(options().max_body_bytes) + " bytes");
    }
    if (ec && ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category()) {
      // Any other parse error: a malformed request line, header or chunk.
      return respond_error(400, "malformed HTTP request (" + ec.message() + ")");
    }
    if (ec) return;  // reset, aborted: nothing to answer
    handle(parser_->get());
  }

  void handle(const bhttp::request<bhttp::string_body>& request) {
    const std::string target(request.target());
    if (target.empty() || target[0] != '/') {
      return respond_error(400, "the request target must be a path starting with '/'");
    }
    HttpRequest req;
    req.method = std::string(request.method_string());
    const size_t question = target.find('?');
    req.path = target.substr(0, question);
    req.query = question == std::string::npos ? "" : target.substr(question + 1);
    const auto route = server_.routes.find(req.path);
    HttpResponse res;
    if (route == server_.routes.end()) {
      res.status = 404;
      res.body = "not found; this node serves " + server_.known_paths() + "\n";
    } else if (request.method() != bhttp::verb::get && request.method() != bhttp::verb::head) {
      res.status = 405;
      res.body = "method not allowed: only GET and HEAD\n";
      res.headers.emplace_back("Allow", "GET, HEAD");
    } else {
      try {
        res = route->second(req);
      } catch (const std::exception& e) {
        res = HttpResponse();
        res.status = 500;
        res.body = std::string("internal error: ") + e.what() + "\n";
      }
    }
    respond(std::move(res), request.method() == bhttp::verb::head, request.keep_alive());
  }

  void respond_error(int status, const std::string& why) {
    HttpResponse res;
    res.status = status;
    res.body = why + "\n";
    respond(std::move(res), false, false);
  }

  void respond(HttpResponse res, bool head, bool keep_alive) {
    server_.count(res.status);
    response_.emplace();
    response_->version(11);
    response_->result(static_cast<unsigned>(res.status));
    response_->set(bhttp::field::server, "thrifty");
    response_->set(bhttp::field::content_type, res.content_type);
    response_->set("X-Content-Type-Options", "nosniff");
    for (const auto& [name, value] : res.headers) response_->set(name, value);
    response_->content_length(res.body.size());
    if (!head) response_->body() = std::move(res.body);
    response_->keep_alive(keep_alive);
    stream_.expires_after(std::chrono::milliseconds(options().write_timeout_ms));
    bhttp::async_write(stream_, *response_,
                       [self = shared_from_this(), keep_alive](beast::error_code ec, std::size_t) {
                         self->on_write(ec, keep_alive);
                       });
  }

  void on_write(beast::error_code ec, bool keep_alive) {
    if (ec == beast::error::timeout) {
      ++server_.timeouts;
      return;
    }
    if (ec) return;
    if (!keep_alive) return close();
    read();
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  beast::tcp_stream stream_;
  ServerState& server_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::optional<bhttp::response<bhttp::string_body>> response_;
};

// The whole answer to a connection over the limit, sent without waiting: if the client's
// receive window cannot take it at once, it goes without it.
constexpr char kTooManyConnections[] =
    "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
    "Content-Length: 29\r\nConnection: close\r\n\r\ntoo many connections; later.\n";

}  // namespace

struct HttpServer::Impl : ServerState {
  using ServerState::ServerState;
};

void ServerState::accept() {
  acceptor->async_accept(net::make_strand(*io), [this](beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor->is_open()) return;
    if (ec) {
      LOG_EVERY_N(WARNING, 100) << "HTTP accept failed: " << ec.message();
    } else if (static_cast<size_t>(open.load()) >= options.max_connections) {
      ++refused;
      count(503);
      ::send(socket.native_handle(), kTooManyConnections, sizeof kTooManyConnections - 1,
             MSG_DONTWAIT | MSG_NOSIGNAL);
      beast::error_code ignored;
      socket.shutdown(tcp::socket::shutdown_both, ignored);
      socket.close(ignored);
    } else {
      std::make_shared<Session>(std::move(socket), *this)->start();
    }
    accept();
  });
}

HttpServer::HttpServer(HttpOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {
  if (const std::string problem = impl_->options.validate(); !problem.empty()) {
    throw std::invalid_argument(problem);
  }
  const std::string where =
      impl_->options.bind_address + ":" + std::to_string(impl_->options.port);
  impl_->io = std::make_unique<net::io_context>(impl_->options.threads);
  try {
    // A literal address, or a host name resolved now (the first address it has).
    const auto port = static_cast<unsigned short>(impl_->options.port);
    beast::error_code literal;
    const auto address = net::ip::make_address(impl_->options.bind_address, literal);
    tcp::endpoint endpoint(address, port);
    if (literal) {
      tcp::resolver resolver(*impl_->io);
      endpoint = *resolver.resolve(impl_->options.bind_address, std::to_string(port)).begin();
    }
    impl_->acceptor = std::make_unique<tcp::acceptor>(*impl_->io);
    impl_->acceptor->open(endpoint.protocol());
    impl_->acceptor->set_option(net::socket_base::reuse_address(true));
    impl_->acceptor->bind(endpoint);
    impl_->acceptor->listen(net::socket_base::max_listen_connections);
    port_ = impl_->acceptor->local_endpoint().port();
  } catch (const boost::system::system_error& e) {
    throw std::runtime_error("cannot serve HTTP on " + where + ": " + e.code().message());
  }
}

HttpServer::~HttpServer() { stop(); }

const std::string& HttpServer::address() const { return impl_->options.bind_address; }

void HttpServer::route(const std::string& path, Handler handler) {
  if (started_) throw std::logic_error("HttpServer::route after start()");
  impl_->routes[path] = std::move(handler);
}

void HttpServer::start() {
  if (started_ || stopped_) return;
  started_ = true;
  impl_->accept();
  for (int i = 0; i < impl_->options.threads; ++i) {
    threads_.emplace_back([this] { impl_->io->run(); });
  }
}

void HttpServer::stop() {
  if (stopped_) return;
  stopped_ = true;
  impl_->io->stop();
  for (auto& thread : threads_) thread.join();
  threads_.clear();
  beast::error_code ignored;
  impl_->acceptor->close(ignored);
  impl_->acceptor.reset();
  // Destroys the handlers still queued, and with them the sessions and their sockets.
  impl_->io.reset();
}

std::map<std::string, int64_t> HttpServer::stats() const {
  return {{"http_connections_open", impl_->open.load()},
          {"http_responses_2xx", impl_->responses_2xx.load()},
          {"http_responses_4xx", impl_->responses_4xx.load()},
          {"http_responses_5xx", impl_->responses_5xx.load()},
          {"http_connections_refused", impl_->refused.load()},
          {"http_timeouts", impl_->timeouts.load()}};
}

}  // namespace thrifty::http
