// TLS for thrifty's Thrift connections: the contexts servers and clients run with.
//
// Every context speaks TLS 1.2 or later. A server presents its certificate and asks the client
// for one: a client without a certificate is served as a client; one whose certificate does not
// chain to the CA is refused in the handshake; one whose certificate does is a certified peer
// (PeerCertified): the trust model counts it as a node of the cluster (locator/service/
// peer_auth.h). A client checks the server's certificate against the CA and against the address
// it dialled, by the certificate's subject alternative names only (DNS or IP; the common name is
// never used), and presents its own certificate if it has one.
//
// Thread-safe once made; a context (and the Thrift factory) must outlive the connections made
// with it.
#pragma once

#include <memory>
#include <string>

#include <openssl/ssl.h>

namespace boost::asio::ssl {
class context;
}
namespace apache::thrift::transport {
class TSSLSocketFactory;
}

namespace thrifty::rpc {

struct TlsOptions {
  std::string cert_file;  // PEM certificate chain of this process (a node's; a client's optional)
  std::string key_file;   // PEM private key of cert_file
  std::string ca_file;    // PEM CA certificates to verify the other side against

  bool enabled() const { return !cert_file.empty() || !key_file.empty() || !ca_file.empty(); }
  // What is wrong with the combination ("" if nothing): a key needs a certificate and the
  // other way round, and TLS needs a CA. `server`: a server needs its certificate.
  std::string problem(bool server) const;
};

// A server's context. Throws std::runtime_error naming the file and OpenSSL's reason when a
// file cannot be read or the key does not match the certificate.
std::shared_ptr<boost::asio::ssl::context> MakeServerTlsContext(const TlsOptions& options);

// A client's socket factory (the connection pool and Connect() use it). Throws as above.
std::shared_ptr<apache::thrift::transport::TSSLSocketFactory> MakeClientTlsFactory(
    const TlsOptions& options);

// A client's context for event-loop connections (peer_channel.h), with the same checks as
// MakeClientTlsFactory: TLS 1.2 or later, the server's certificate must chain to the CA, and
// this process's certificate (if any) is presented. The server's name is checked per
// connection (ExpectServerName). Throws as above.
std::shared_ptr<boost::asio::ssl::context> MakeClientTlsContext(const TlsOptions& options);

// Makes the handshake on `ssl` accept only a server certificate whose subject alternative
// names hold `address` (an IP address, or a DNS name also sent as SNI); never the common name.
void ExpectServerName(SSL* ssl, const std::string& address);

// True if the other end of `ssl` presented a certificate that chains to the CA.
bool PeerCertified(SSL* ssl);

}  // namespace thrifty::rpc
