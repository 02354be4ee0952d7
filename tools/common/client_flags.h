// The flags every client command shares (--peer, discovery, timeouts) and the client they make.
#pragma once

#include <memory>
#include <string>

#include "diststore/client/cluster_client.h"
#include "tools/common/cli.h"
#include "tools/common/tls_flags.h"

namespace thrifty::cli {

class ClientFlags {
 public:
  // Adds --peer, --discover-from, --discover-to, --timeout-ms and --direct to `command`.
  explicit ClientFlags(CommandLine& command);
  // The command line writes into it: it stays where it is.
  ClientFlags(const ClientFlags&) = delete;
  ClientFlags& operator=(const ClientFlags&) = delete;

  // Connects to --peer, or to the first diststore node found on 127.0.0.1 in the discovery
  // range. Exits 2 (one line on stderr) on a bad flag value or when no node answers.
  std::unique_ptr<client::ClusterClient> Connect() const;

  // The node --peer names, or the one discovery finds (same exits as above).
  locator::wire::Location EntryNode() const;

  // True if --peer was given (a command may then talk to that node alone).
  bool peer_given() const { return !peer_.empty(); }

  // --timeout-ms (exits 2 unless it is >= 1).
  int TimeoutMs() const;

  // The TLS client side of --tls-cert/--tls-key/--tls-ca (null without them; exits 2 on a bad one).
  std::shared_ptr<apache::thrift::transport::TSSLSocketFactory> Tls() const {
    return tls_.client_factory();
  }
  // A connection error, with a hint if it looks like TLS was needed (TlsFlags::explain).
  std::string Explain(const std::string& error) const { return tls_.explain(error); }

 private:
  std::string peer_;
  DiscoveryRange discovery_;
  int timeout_ms_ = 10000;
  bool direct_ = false;
  TlsFlags tls_;
};

}  // namespace thrifty::cli
