// Listener: a TCP socket that is bound and listening from construction, so a node knows (and
// owns) its port before it serves: connections made meanwhile wait in the backlog.
//
// Owned by one RpcServer (rpc_server.h), which takes the descriptor when it starts.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>

namespace thrifty::rpc {

// The address could not be bound (the port is taken, the address is not this machine's).
class BindError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Listener {
 public:
  // Binds `address:port` (a numeric address or a name; port 0: any free port) and listens.
  // Throws BindError naming the address and the reason.
  Listener(const std::string& address, int port);
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  int port() const { return port_; }
  bool ipv6() const { return ipv6_; }
  const std::string& address() const { return address_; }

  // Hands the listening descriptor to the caller, who closes it. -1 once taken.
  int release();

 private:
  std::string address_;
  int port_ = 0;
  bool ipv6_ = false;
  int fd_ = -1;
};

// Binds the first free port of [first, last] on `address`; throws BindError naming the range
// if none is free.
std::shared_ptr<Listener> BindFirstFree(const std::string& address, int first, int last);

}  // namespace thrifty::rpc
