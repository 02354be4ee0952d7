#include "tests/http/http_get.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>

namespace thrifty::testing {

namespace {

using Clock = std::chrono::steady_clock;

HttpReply Parse(const std::string& raw) {
  HttpReply reply;
  const size_t end = raw.find("\r\n\r\n");
  if (raw.rfind("HTTP/1.", 0) != 0 || end == std::string::npos) {
    reply.error = raw.empty() ? "no answer" : "not an HTTP response: " + raw.substr(0, 80);
    return reply;
  }
  reply.status = std::atoi(raw.c_str() + 9);
  size_t line = raw.find("\r\n") + 2;
  while (line < end) {
    const size_t next = raw.find("\r\n", line);
    const std::string header = raw.substr(line, next - line);
    const size_t colon = header.find(':');
    if (colon != std::string::npos) {
      std::string name = header.substr(0, colon);
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      size_t value = colon + 1;
      while (value < header.size() && header[value] == ' ') ++value;
      reply.headers[name] = header.substr(value);
    }
    line = next + 2;
  }
  reply.body = raw.substr(end + 4);
  return reply;
}

}  // namespace

HttpReply HttpExchange(int port, const std::string& request, int timeout_ms) {
  HttpReply failed;
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) {
    failed.error = "socket failed";
    return failed;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    failed.error = std::string("connect: ") + std::strerror(errno);
    close(fd);
    return failed;
  }
  size_t sent = 0;
  while (sent < request.size()) {
    const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // the server may answer and close before reading everything
    sent += static_cast<size_t>(n);
  }
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  std::string raw;
  char buf[16384];
  while (true) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) break;
    pollfd p{fd, POLLIN, 0};
    const int r = poll(&p, 1, static_cast<int>(left));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    raw.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return Parse(raw);
}

HttpReply HttpGet(int port, const std::string& path, int timeout_ms, const std::string& method) {
  return HttpExchange(port,
                      method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                      timeout_ms);
}

}  // namespace thrifty::testing
