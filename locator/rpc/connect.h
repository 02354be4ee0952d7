// ThriftConnection<Client>: one open Thrift connection to a node, made the one way thrifty makes
// them: a TSocket (or a TSSLSocket with TLS) with connect and call deadlines, framed transport and checked binary protocol
// with the given limits (limits.h). The connection pool, the load generator and the tests all
// connect through Connect().
#pragma once

#include <memory>

#include <thrift/transport/TSSLSocket.h>
#include <thrift/transport/TSocket.h>

#include "locator/rpc/address.h"
#include "locator/rpc/limits.h"

namespace thrifty::rpc {

struct ConnectOptions {
  int connect_timeout_ms = 1000;
  int call_timeout_ms = 5000;  // send and receive deadline of one call
  RpcLimits limits;
  // TLS (tls.h: MakeClientTlsFactory); null: plain TCP.
  std::shared_ptr<apache::thrift::transport::TSSLSocketFactory> tls;
};

template <typename Client>
struct ThriftConnection {
  std::shared_ptr<apache::thrift::transport::TSocket> socket;
  std::shared_ptr<FramedTransport> transport;
  std::unique_ptr<Client> client;
};

// Opens a connection to `node`. Throws TTransportException when it cannot.
template <typename Client>
ThriftConnection<Client> Connect(const locator::wire::Location& node,
                                 const ConnectOptions& options) {
  ThriftConnection<Client> conn;
  if (options.tls) {
    conn.socket = options.tls->createSocket(node.address, node.port);
  } else {
    conn.socket = std::make_shared<apache::thrift::transport::TSocket>(
        node.address, node.port, MakeConfiguration(options.limits));
  }
  conn.socket->setConnTimeout(options.connect_timeout_ms);
  conn.socket->setRecvTimeout(options.call_timeout_ms);
  conn.socket->setSendTimeout(options.call_timeout_ms);
  conn.transport = MakeFramedTransport(conn.socket, options.limits);
  conn.client = std::make_unique<Client>(MakeBinaryProtocol(conn.transport, options.limits));
  conn.transport->open();
  return conn;
}

}  // namespace thrifty::rpc
