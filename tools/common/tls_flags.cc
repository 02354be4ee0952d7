#include "tools/common/tls_flags.h"

#include <boost/asio/ssl/context.hpp>
#include <thrift/transport/TSSLSocket.h>

namespace thrifty::cli {

TlsFlags::TlsFlags(CommandLine& command, bool server) : server_(server) {
  command.option("--tls-cert", options_.cert_file,
                 server ? "PEM certificate (chain) of this node: serve and call peers over TLS"
                        : "PEM certificate (chain) to present (optional; one of the cluster's CA "
                          "makes this client a peer)")
      .type_name("FILE");
  command.option("--tls-key", options_.key_file, "PEM private key of --tls-cert").type_name("FILE");
  command.option("--tls-ca", options_.ca_file,
                 "PEM CA certificate(s) the other side's certificate must chain to (turns TLS on)")
      .type_name("FILE");
}

std::string TlsFlags::explain(const std::string& error) const {
  if (enabled()) return error;
  // What a plain Thrift socket reports when the server closes it after a failed handshake.
  for (const char* sign : {"No more data to read", "Connection reset by peer"}) {
    if (error.find(sign) != std::string::npos) {
      return error + " (if the node serves TLS, give --tls-ca and, to be a peer, --tls-cert/--tls-key)";
    }
  }
  return error;
}

void TlsFlags::check() const {
  if (const std::string problem = options_.problem(server_); !problem.empty()) Fail(2, problem);
}

std::shared_ptr<boost::asio::ssl::context> TlsFlags::server_context() const {
  if (!enabled()) return nullptr;
  check();
  try {
    return rpc::MakeServerTlsContext(options_);
  } catch (const std::exception& e) {
    Fail(2, std::string("TLS: ") + e.what());
  }
}

std::shared_ptr<apache::thrift::transport::TSSLSocketFactory> TlsFlags::client_factory() const {
  if (!enabled()) return nullptr;
  if (client_) return client_;
  check();
  try {
    client_ = rpc::MakeClientTlsFactory(options_);
  } catch (const std::exception& e) {
    Fail(2, e.what());
  }
  return client_;
}

std::shared_ptr<boost::asio::ssl::context> TlsFlags::client_context() const {
  if (!enabled()) return nullptr;
  check();
  try {
    return rpc::MakeClientTlsContext(options_);
  } catch (const std::exception& e) {
    Fail(2, std::string("TLS: ") + e.what());
  }
}

}  // namespace thrifty::cli
