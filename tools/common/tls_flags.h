// --tls-cert, --tls-key and --tls-ca: the TLS flags every node and client command shares, and
// the contexts they make (locator/rpc/tls.h).
#pragma once

#include <memory>
#include <string>

#include "locator/rpc/tls.h"
#include "tools/common/cli.h"

namespace boost::asio::ssl {
class context;
}
namespace apache::thrift::transport {
class TSSLSocketFactory;
}

namespace thrifty::cli {

class TlsFlags {
 public:
  // `server`: the command serves connections (a node), so a certificate is required with TLS.
  TlsFlags(CommandLine& command, bool server);
  TlsFlags(const TlsFlags&) = delete;
  TlsFlags& operator=(const TlsFlags&) = delete;

  bool enabled() const { return options_.enabled(); }
  // `error` of a failed connection, with a hint when it looks like a plaintext client cut off
  // by a TLS node's handshake (and this command has no TLS flags).
  std::string explain(const std::string& error) const;
  // Exits 2 with one line if the combination is wrong or a file cannot be used.
  std::shared_ptr<boost::asio::ssl::context> server_context() const;
  // The client side (null without TLS); made once. Exits 2 as above.
  std::shared_ptr<apache::thrift::transport::TSSLSocketFactory> client_factory() const;
  // The client side of event-loop connections (peer channels; null without TLS). Exits 2 as
  // above.
  std::shared_ptr<boost::asio::ssl::context> client_context() const;

 private:
  void check() const;
  rpc::TlsOptions options_;
  bool server_;
  mutable std::shared_ptr<apache::thrift::transport::TSSLSocketFactory> client_;
};

}  // namespace thrifty::cli
