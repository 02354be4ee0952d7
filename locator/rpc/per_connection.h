// PerConnection<Processor>: a processor factory that gives every connection its own handler.
//
// A handler made per connection can keep what that connection has proved (the peer handshake,
// locator/service/peer_auth.h) without any lock: the server runs one connection's calls one
// after another. `make(peer)` is called on the accepting thread with the remote "host:port"
// (empty when the transport is not a socket); the handler lives as long as the connection.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>

#include <thrift/TProcessor.h>
#include <thrift/transport/TSocket.h>

namespace thrifty::rpc {

template <class Processor, class Iface>
class PerConnection : public apache::thrift::TProcessorFactory {
 public:
  using MakeHandler = std::function<std::shared_ptr<Iface>(const std::string& peer)>;

  explicit PerConnection(MakeHandler make) : make_(std::move(make)) {}

  std::shared_ptr<apache::thrift::TProcessor> getProcessor(
      const apache::thrift::TConnectionInfo& info) override {
    std::string peer;
    if (auto socket = std::dynamic_pointer_cast<apache::thrift::transport::TSocket>(info.transport)) {
      peer = socket->getPeerAddress() + ":" + std::to_string(socket->getPeerPort());
    }
    return std::make_shared<Processor>(make_(peer));
  }

 private:
  MakeHandler make_;
};

}  // namespace thrifty::rpc
