#include "locator/rpc/listener.h"

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace thrifty::rpc {

namespace {

// Connections waiting to be accepted (the kernel caps it at net.core.somaxconn).
constexpr int kBacklog = 4096;

std::string Where(const std::string& address, int port) {
  return (address.find(':') != std::string::npos ? "[" + address + "]" : address) + ":" +
         std::to_string(port);
}

}  // namespace

Listener::Listener(const std::string& address, int port) : address_(address) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_ADDRCONFIG;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  const int rc = ::getaddrinfo(address.empty() ? nullptr : address.c_str(), service.c_str(), &hints,
                               &found);
  if (rc != 0) {
    throw BindError("cannot listen on " + Where(address, port) + ": " + ::gai_strerror(rc));
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> addresses(found, ::freeaddrinfo);
  std::string why = "no address";
  for (const addrinfo* a = found; a != nullptr; a = a->ai_next) {
    const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      why = std::strerror(errno);
      continue;
    }
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, a->ai_addr, a->ai_addrlen) != 0 || ::listen(fd, kBacklog) != 0) {
      why = std::strerror(errno);
      ::close(fd);
      continue;
    }
    sockaddr_storage bound{};
    socklen_t size = sizeof bound;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &size);
    ipv6_ = bound.ss_family == AF_INET6;
    port_ = ipv6_
                ? ntohs(reinterpret_cast<const sockaddr_in6*>(&bound)->sin6_port)
                : ntohs(reinterpret_cast<const sockaddr_in*>(&bound)->sin_port);
    fd_ = fd;
    return;
  }
  throw BindError("cannot listen on " + Where(address, port) + ": " + why);
}

Listener::~Listener() {
  if (fd_ >= 0) ::close(fd_);
}

int Listener::release() {
  const int fd = fd_;
  fd_ = -1;
  return fd;
}

std::shared_ptr<Listener> BindFirstFree(const std::string& address, int first, int last) {
  for (int port = first; port <= last; ++port) {
    try {
      return std::make_shared<Listener>(address, port);
    } catch (const BindError&) {
      // taken: try the next one
    }
  }
  throw BindError("no free port on " + address + " in " + std::to_string(first) + ".." +
                  std::to_string(last));
}

}  // namespace thrifty::rpc
