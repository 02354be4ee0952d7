// HttpServer against raw sockets on 127.0.0.1: routes, methods, malformed and oversized
// requests, slow clients, the connection limit, keep-alive, and its counters.
#include "locator/http/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <stdexcept>
#include <thread>

#include <gtest/gtest.h>

#include "tests/http/http_get.h"

namespace thrifty::http {
namespace {

using testing::HttpExchange;
using testing::HttpGet;
using Clock = std::chrono::steady_clock;

bool WaitFor(const std::function<bool()>& pred, int timeout_ms) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!pred()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

// A connection held open by the test.
class Conn {
 public:
  explicit Conn(int port) : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ < 0 || connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      throw std::runtime_error(std::string("connect: ") + std::strerror(errno));
    }
  }
  ~Conn() { close(fd_); }
  void send(const std::string& bytes) {
    ASSERT_EQ(::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL), static_cast<ssize_t>(bytes.size()));
  }
  // Reads until `until` appears in what came, the server closes, or the deadline passes.
  // Returns what came; *closed says whether the server closed the connection.
  std::string read(int timeout_ms, bool* closed = nullptr, const std::string& until = "") {
    std::string got;
    if (closed) *closed = false;
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    char buf[4096];
    while (until.empty() || got.find(until) == std::string::npos) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) break;
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left)) <= 0) break;
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        if (closed) *closed = true;
        break;
      }
      got.append(buf, static_cast<size_t>(n));
    }
    return got;
  }

 private:
  int fd_;
};

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    HttpOptions options;
    options.max_connections = 4;
    options.max_header_bytes = 4096;
    options.max_body_bytes = 1024;
    options.read_timeout_ms = 400;
    server_ = std::make_unique<HttpServer>(options);
    server_->route("/hello", [](const HttpRequest& request) {
      HttpResponse response;
      response.body = "hello " + request.method + " " + request.query + "\n";
      response.headers.emplace_back("Cache-Control", "no-store");
      return response;
    });
    server_->route("/broken", [](const HttpRequest&) -> HttpResponse {
      throw std::runtime_error("the handler failed");
    });
    server_->start();
    port_ = server_->port();
    ASSERT_GT(port_, 0);
  }
  int64_t stat(const std::string& name) { return server_->stats().at(name); }

  std::unique_ptr<HttpServer> server_;
  int port_ = 0;
};

TEST_F(HttpServerTest, ServesGetAndHeadOnItsRoutes) {
  const auto reply = HttpGet(port_, "/hello?x=1");
  EXPECT_EQ(reply.status, 200) << reply.error;
  EXPECT_EQ(reply.body, "hello GET x=1\n");
  EXPECT_EQ(reply.headers.at("content-type"), "text/plain; charset=utf-8");
  EXPECT_EQ(reply.headers.at("cache-control"), "no-store");
  const auto head = HttpGet(port_, "/hello", 5000, "HEAD");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.body, "");
  EXPECT_EQ(head.headers.at("content-length"), "12");  // "hello HEAD \n"
  EXPECT_EQ(stat("http_responses_2xx"), 2);
}

TEST_F(HttpServerTest, UnknownPathIs404AndOtherMethodsAre405) {
  const auto missing = HttpGet(port_, "/nope");
  EXPECT_EQ(missing.status, 404);
  EXPECT_NE(missing.body.find("/hello"), std::string::npos) << "the 404 names the paths served";
  for (const char* method : {"POST", "PUT", "DELETE", "OPTIONS"}) {
    const auto reply = HttpGet(port_, "/hello", 5000, method);
    EXPECT_EQ(reply.status, 405) << method;
    EXPECT_EQ(reply.headers.count("allow") ? reply.headers.at("allow") : "", "GET, HEAD") << method;
  }
  EXPECT_EQ(stat("http_responses_4xx"), 5);
}

TEST_F(HttpServerTest, AThrowingHandlerAnswers500) {
  const auto reply = HttpGet(port_, "/broken");
  EXPECT_EQ(reply.status, 500);
  EXPECT_NE(reply.body.find("the handler failed"), std::string::npos);
  EXPECT_EQ(stat("http_responses_5xx"), 1);
}

TEST_F(HttpServerTest, MalformedRequestsGet400AndTheirConnectionIsClosed) {
  static constexpr char kTlsLike[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 garbage\r\n\r\n";
  for (const std::string& garbage :
       {std::string(kTlsLike, sizeof kTlsLike - 1),
        std::string("GET /hello HTTP/9.9\r\n\r\n"), std::string("GET /hello\r\n\r\n"),
        std::string("G@T /hello HTTP/1.1\r\n\r\n"), std::string("GET /hello HTTP/1.1\r\nbad header\r\n\r\n"),
        std::string("GET http://example.invalid/hello HTTP/1.1\r\nHost: x\r\n\r\n")}) {
    const auto start = Clock::now();
    const auto reply = HttpExchange(port_, garbage, 5000);
    EXPECT_EQ(reply.status, 400) << garbage << ": " << reply.error;
    EXPECT_LT(Clock::now() - start, std::chrono::seconds(2)) << "closed only by the timeout";
  }
  EXPECT_EQ(HttpGet(port_, "/hello").status, 200);
}

TEST_F(HttpServerTest, OversizedHeadersAndBodiesGet4xx) {
  const auto huge_header = HttpExchange(
      port_, "GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(100000, 'a') + "\r\n\r\n");
  EXPECT_EQ(huge_header.status, 431) << huge_header.error;
  const auto huge_body = HttpExchange(
      port_, "POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n" + std::string(2000, 'b'));
  EXPECT_EQ(huge_body.status, 413) << huge_body.error;
  EXPECT_EQ(HttpGet(port_, "/hello").status, 200);
}

TEST_F(HttpServerTest, ASlowClientIsDisconnectedAtTheReadTimeout) {
  Conn slow(port_);
  slow.send("GET /hel");
  const auto start = Clock::now();
  bool closed = false;
  // It trickles a byte now and then: the deadline is for the whole request.
  for (int i = 0; i < 8 && !closed; ++i) {
    slow.read(100, &closed);
    if (!closed) slow.send("l");
  }
  if (!closed) slow.read(2000, &closed);
  EXPECT_TRUE(closed);
  EXPECT_LT(Clock::now() - start, std::chrono::milliseconds(1500));
  EXPECT_TRUE(WaitFor([&] { return stat("http_timeouts") == 1; }, 2000));
  // A silent connection too.
  Conn silent(port_);
  silent.read(2000, &closed);
  EXPECT_TRUE(closed);
  EXPECT_EQ(stat("http_timeouts"), 1) << "a connection that sent nothing is idle, not slow";
  EXPECT_EQ(HttpGet(port_, "/hello").status, 200);
}

TEST_F(HttpServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  Conn conn(port_);
  conn.send("GET /hello?a HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(conn.read(2000, nullptr, "hello GET a\n").find("hello GET a\n"), std::string::npos);
  conn.send("GET /hello?b HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(conn.read(2000, nullptr, "hello GET b\n").find("hello GET b\n"), std::string::npos);
}

TEST_F(HttpServerTest, ConnectionsOverTheLimitGet503AndOthersAreServedAfter) {
  {
    std::vector<std::unique_ptr<Conn>> held;
    for (int i = 0; i < 4; ++i) held.push_back(std::make_unique<Conn>(port_));
    ASSERT_TRUE(WaitFor([&] { return stat("http_connections_open") == 4; }, 2000));
    const auto refused = HttpGet(port_, "/hello");
    EXPECT_EQ(refused.status, 503) << refused.error;
    EXPECT_EQ(stat("http_connections_refused"), 1);
  }
  ASSERT_TRUE(WaitFor([&] { return stat("http_connections_open") == 0; }, 2000));
  EXPECT_EQ(HttpGet(port_, "/hello").status, 200);
}

TEST_F(HttpServerTest, StopClosesOpenConnections) {
  Conn conn(port_);
  ASSERT_TRUE(WaitFor([&] { return stat("http_connections_open") == 1; }, 2000));
  server_->stop();
  bool closed = false;
  conn.read(2000, &closed);
  EXPECT_TRUE(closed);
  EXPECT_EQ(stat("http_connections_open"), 0);
}

TEST(HttpServer, ATakenPortIsRefusedNamingIt) {
  HttpServer first(HttpOptions{});
  HttpOptions options;
  options.port = first.port();
  try {
    HttpServer second(options);
    ADD_FAILURE() << "bound a taken port";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("127.0.0.1:" + std::to_string(first.port())),
              std::string::npos)
        << e.what();
  }
  options.port = 70000;
  EXPECT_THROW(HttpServer bad(options), std::invalid_argument);
}

}  // namespace
}  // namespace thrifty::http
