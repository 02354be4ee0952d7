// RawConn: a plain TCP connection to a port on 127.0.0.1, for tests that send a server bytes no
// well-behaved client would (half frames, garbage, floods) and watch what it does.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

namespace thrifty::testing {

class RawConn {
 public:
  // Connects; throws std::runtime_error if it cannot.
  explicit RawConn(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      const std::string error = std::strerror(errno);
      close(fd_);
      throw std::runtime_error("connect to port " + std::to_string(port) + ": " + error);
    }
    const int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  ~RawConn() {
    if (fd_ >= 0) close(fd_);
  }
  RawConn(const RawConn&) = delete;
  RawConn& operator=(const RawConn&) = delete;

  // send_all() gives up (returns false) after this long without progress.
  void set_send_timeout_ms(int ms) {
    timeval tv{ms / 1000, (ms % 1000) * 1000};
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  }

  // Sends what it can; the server may close the connection before it has read everything.
  bool send_all(const std::string& bytes) {
    size_t sent = 0;
    while (sent < bytes.size()) {
      const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      sent += static_cast<size_t>(n);
    }
    return true;
  }
  void shutdown_write() { ::shutdown(fd_, SHUT_WR); }

  // Reads until the server closes the connection (true) or `timeout_ms` passes (false).
  bool read_until_closed(int timeout_ms, std::string* received = nullptr) {
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    char buf[4096];
    while (true) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      const int r = poll(&p, 1, static_cast<int>(left.count()));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return false;
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n == 0) return true;
      if (n < 0) {
        if (errno == EINTR || errno == EAGAIN) continue;
        return true;  // reset by the server: closed as well
      }
      if (received) received->append(buf, static_cast<size_t>(n));
    }
  }

  // Reads one frame (4-byte big-endian size, then the payload) into `payload`; false on close
  // or after `timeout_ms`.
  bool read_frame(std::string* payload, int timeout_ms = 5000) {
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    std::string header;
    if (!read_exactly(4, &header, deadline)) return false;
    uint32_t size = 0;
    for (char c : header) size = (size << 8) | static_cast<uint8_t>(c);
    payload->clear();
    return read_exactly(size, payload, deadline);
  }

  // True while the server has neither closed the connection nor sent anything.
  bool still_open() {
    pollfd p{fd_, POLLIN, 0};
    return poll(&p, 1, 0) == 0;
  }

 private:
  using Clock = std::chrono::steady_clock;

  bool read_exactly(size_t size, std::string* out, Clock::time_point deadline) {
    char buf[65536];
    while (out->size() < size) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      const int r = poll(&p, 1, static_cast<int>(left));
      if (r <= 0) continue;
      const ssize_t n = ::recv(fd_, buf, std::min(sizeof buf, size - out->size()), 0);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n <= 0) return false;
      out->append(buf, static_cast<size_t>(n));
    }
    return true;
  }

  int fd_ = -1;
};

}  // namespace thrifty::testing
