// HttpServer: a small HTTP/1.1 server (Boost.Beast) for a node's operations endpoints:
// metrics, health, a status page. GET and HEAD only, on exact paths.
//
// It runs on an io_context of its own (options.threads threads), apart from the Thrift server,
// so nothing here can slow the store's requests but the CPU it takes. Hostile or broken clients
// cost only their own connection:
//   - a malformed request gets 400, a header over max_header_bytes 431, a body over
//     max_body_bytes 413, and the connection is closed after the answer;
//   - an unknown path gets 404, another method 405 (with Allow: GET, HEAD);
//   - a request must arrive whole within read_timeout_ms of the connection being ready for it
//     (a slow or silent client is disconnected), and an answer must be taken within
//     write_timeout_ms;
//   - at most max_connections are open at once: one more gets 503 and is closed at once.
// Connections are kept alive between requests (HTTP/1.1), under the same read timeout.
//
// Handlers run on the server's threads, one request of a connection at a time, several
// connections' handlers at once when threads > 1: they must be thread-safe, and should be
// quick (a slow handler holds one of the threads).
//
// Lifecycle: construct (binds; throws std::runtime_error naming the address if it cannot) ->
// route()... -> start() -> stop() or destruction (closes every connection, joins the threads).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace thrifty::http {

struct HttpOptions {
  std::string bind_address = "127.0.0.1";
  int port = 0;  // 0: any free port (see HttpServer::port())
  int threads = 2;
  size_t max_connections = 64;
  size_t max_header_bytes = 8 * 1024;
  size_t max_body_bytes = 16 * 1024;
  int read_timeout_ms = 5000;
  int write_timeout_ms = 10000;

  // Empty when usable, else what is wrong.
  std::string validate() const;
};

struct HttpRequest {
  std::string method;  // "GET" or "HEAD": no other reaches a handler
  std::string path;    // the target up to '?'
  std::string query;   // after '?', undecoded ("" if none)
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // more headers, e.g. Cache-Control
};

class HttpServer {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;

  explicit HttpServer(HttpOptions options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Serves GET and HEAD of exactly `path` (e.g. "/metrics") with `handler`. Before start().
  // A handler that throws answers 500 with the exception's text.
  void route(const std::string& path, Handler handler);
  // Starts accepting on the server's threads. Call once.
  void start();
  // Stops accepting, closes every connection, joins the threads. Idempotent.
  void stop();

  int port() const { return port_; }
  const std::string& address() const;

  // http_connections_open (a gauge), and counters: http_responses_2xx, http_responses_4xx,
  // http_responses_5xx (answers by class), http_connections_refused (over max_connections),
  // http_timeouts (connections closed because a request they began came too slowly, or an
  // answer was not taken in time; not idle ones). Thread-safe.
  std::map<std::string, int64_t> stats() const;

 private:
  struct Impl;  // Beast and Asio stay out of this header
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
  std::vector<std::thread> threads_;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace thrifty::http
