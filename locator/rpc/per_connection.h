// PerConnection<Processor>: a processor factory that gives every connection its own handler.
//
// A handler made per connection can keep what that connection has proved (the peer handshake,
// locator/service/peer_auth.h) without any lock: the server runs one connection's calls one
// after another. `make(peer)` is called once per connection, before its first call, with the
// remote "host:port" (empty when the server does not say) and whether the peer presented a
// certificate of the cluster's CA (TLS, see tls.h); the handler lives as long as the connection.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>

#include <thrift/TProcessor.h>
#include <thrift/transport/TTransport.h>

namespace thrifty::rpc {

// What RpcServer passes as TConnectionInfo::transport: who is on the connection, no I/O.
class ConnectionPeer : public apache::thrift::transport::TTransport {
 public:
  explicit ConnectionPeer(std::string address, bool certified = false)
      : address_(std::move(address)), certified_(certified) {}
  const std::string& address() const { return address_; }
  // The peer proved, with a TLS certificate of the cluster's CA, that it is a node.
  bool certified() const { return certified_; }
  bool isOpen() const override { return false; }

 private:
  std::string address_;
  bool certified_;
};

template <class Processor, class Iface>
class PerConnection : public apache::thrift::TProcessorFactory {
 public:
  using MakeHandler = std::function<std::shared_ptr<Iface>(const ConnectionPeer& peer)>;

  explicit PerConnection(MakeHandler make) : make_(std::move(make)) {}

  std::shared_ptr<apache::thrift::TProcessor> getProcessor(
      const apache::thrift::TConnectionInfo& info) override {
    auto connection = std::dynamic_pointer_cast<ConnectionPeer>(info.transport);
    return std::make_shared<Processor>(make_(connection ? *connection : ConnectionPeer("")));
  }

 private:
  MakeHandler make_;
};

}  // namespace thrifty::rpc
