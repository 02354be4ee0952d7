#include "locator/rpc/tls.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <stdexcept>

#include <boost/asio/ssl/context.hpp>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <thrift/transport/TSSLSocket.h>

namespace thrifty::rpc {

using apache::thrift::transport::AccessManager;
using apache::thrift::transport::TSSLSocketFactory;

namespace {

std::string OpenSslErrors() {
  std::string out;
  while (const unsigned long code = ERR_get_error()) {
    char text[256];
    ERR_error_string_n(code, text, sizeof text);
    if (!out.empty()) out += "; ";
    out += text;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

[[noreturn]] void Fail(const std::string& what, const std::string& file) {
  throw std::runtime_error(what + " " + file + ": " + OpenSslErrors());
}

// The client's check of the server's certificate, at the leaf: its subject alternative names
// must hold the address dialled (the SNI name Thrift sets, or the peer's IP), never the CN.
int VerifyServerName(int preverified, X509_STORE_CTX* store) {
  if (!preverified) return 0;
  if (X509_STORE_CTX_get_error_depth(store) != 0) return 1;
  auto* ssl = static_cast<SSL*>(
      X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  X509* cert = X509_STORE_CTX_get_current_cert(store);
  const char* host = ssl ? SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name) : nullptr;
  std::string name = host ? host : "";
  if (name.empty() && ssl) {
    // No name sent (an IP address is not sent as SNI): the address connected to.
    sockaddr_storage peer{};
    socklen_t size = sizeof peer;
    char text[INET6_ADDRSTRLEN] = {};
    if (getpeername(SSL_get_fd(ssl), reinterpret_cast<sockaddr*>(&peer), &size) == 0) {
      if (peer.ss_family == AF_INET) {
        inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&peer)->sin_addr, text, sizeof text);
      } else if (peer.ss_family == AF_INET6) {
        inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(&peer)->sin6_addr, text, sizeof text);
      }
    }
    name = text;
  }
  const unsigned flags = X509_CHECK_FLAG_NEVER_CHECK_SUBJECT;
  const bool match = X509_check_ip_asc(cert, name.c_str(), flags) == 1 ||
                     X509_check_host(cert, name.c_str(), name.size(), flags, nullptr) == 1;
  if (!match) X509_STORE_CTX_set_error(store, X509_V_ERR_HOSTNAME_MISMATCH);
  return match ? 1 : 0;
}

// The name check is done in the handshake (VerifyServerName): Thrift's own, which falls back to
// the common name, is not used.
class CheckedInHandshake : public AccessManager {
 public:
  Decision verify(const sockaddr_storage&) noexcept override { return ALLOW; }
};

class ClientFactory : public TSSLSocketFactory {
 public:
  ClientFactory() : TSSLSocketFactory(apache::thrift::transport::SSLTLS) {
    SSL_CTX_set_min_proto_version(ctx_->get(), TLS1_2_VERSION);
  }
  void check_names() { SSL_CTX_set_verify(ctx_->get(), SSL_VERIFY_PEER, VerifyServerName); }
};

}  // namespace

std::string TlsOptions::problem(bool server) const {
  if (!enabled()) return "";
  if (cert_file.empty() != key_file.empty()) {
    return "--tls-cert and --tls-key go together (a certificate and its private key)";
  }
  if (ca_file.empty()) return "--tls-ca is required with TLS (the CA to check the other side against)";
  if (server && cert_file.empty()) return "a node with TLS needs --tls-cert and --tls-key";
  return "";
}

std::shared_ptr<boost::asio::ssl::context> MakeServerTlsContext(const TlsOptions& options) {
  namespace ssl = boost::asio::ssl;
  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* ctx = context->native_handle();
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
  ERR_clear_error();
  if (SSL_CTX_use_certificate_chain_file(ctx, options.cert_file.c_str()) != 1) {
    Fail("cannot use the certificate", options.cert_file);
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, options.key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx) != 1) {
    Fail("cannot use the private key (unreadable, or not the key of " + options.cert_file + ")",
         options.key_file);
  }
  if (SSL_CTX_load_verify_locations(ctx, options.ca_file.c_str(), nullptr) != 1) {
    Fail("cannot load the CA certificates", options.ca_file);
  }
  // Ask for a certificate; a client may have none (it is then a client, not a peer), but one
  // that does not chain to the CA fails the handshake.
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(options.ca_file.c_str());
  if (names) SSL_CTX_set_client_CA_list(ctx, names);
  return context;
}

std::shared_ptr<TSSLSocketFactory> MakeClientTlsFactory(const TlsOptions& options) {
  auto factory = std::make_shared<ClientFactory>();
  ERR_clear_error();
  try {
    if (!options.cert_file.empty()) {
      factory->loadCertificate(options.cert_file.c_str());
      factory->loadPrivateKey(options.key_file.c_str());
    }
    factory->loadTrustedCertificates(options.ca_file.c_str());
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("TLS: ") + e.what() + " (--tls-cert " + options.cert_file +
                             ", --tls-key " + options.key_file + ", --tls-ca " + options.ca_file +
                             ")");
  }
  factory->authenticate(true);
  factory->check_names();  // after authenticate(), which sets the verify mode without a callback
  factory->access(std::make_shared<CheckedInHandshake>());
  return factory;
}

std::shared_ptr<boost::asio::ssl::context> MakeClientTlsContext(const TlsOptions& options) {
  namespace ssl = boost::asio::ssl;
  auto context = std::make_shared<ssl::context>(ssl::context::tls_client);
  SSL_CTX* ctx = context->native_handle();
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
  ERR_clear_error();
  if (!options.cert_file.empty()) {
    if (SSL_CTX_use_certificate_chain_file(ctx, options.cert_file.c_str()) != 1) {
      Fail("cannot use the certificate", options.cert_file);
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, options.key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
      Fail("cannot use the private key (unreadable, or not the key of " + options.cert_file +
               ")",
           options.key_file);
    }
  }
  if (SSL_CTX_load_verify_locations(ctx, options.ca_file.c_str(), nullptr) != 1) {
    Fail("cannot load the CA certificates", options.ca_file);
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  return context;
}

void ExpectServerName(SSL* ssl, const std::string& address) {
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NEVER_CHECK_SUBJECT);
  if (X509_VERIFY_PARAM_set1_ip_asc(param, address.c_str()) == 1) return;
  X509_VERIFY_PARAM_set1_host(param, address.c_str(), address.size());
  SSL_set_tlsext_host_name(ssl, address.c_str());
}

bool PeerCertified(SSL* ssl) {
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (!cert) return false;
  X509_free(cert);
  return SSL_get_verify_result(ssl) == X509_V_OK;
}

}  // namespace thrifty::rpc
