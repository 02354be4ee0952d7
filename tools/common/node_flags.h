// The flags every node (locator, storeserver) shares, and the NodeOptions they make.
#pragma once

#include <cstdint>
#include <string>

#include "locator/service/locator_node.h"
#include "tools/common/cli.h"
#include "tools/common/tls_flags.h"

namespace thrifty::cli {

class NodeFlags {
 public:
  // Adds the node flags (--port, --peer, --discovery, --bind, gossip tuning, ...) to `command`.
  explicit NodeFlags(CommandLine& command);
  // The command line writes into it: it stays where it is.
  NodeFlags(const NodeFlags&) = delete;
  NodeFlags& operator=(const NodeFlags&) = delete;

  // NodeOptions from the parsed flags; exits 2 with a clear line on a bad value.
  locator::NodeOptions options() const;

 private:
  int port_ = 0;
  std::string peer_;
  std::string discovery_url_;
  int discovery_ttl_s_ = discovery::EtcdDiscoveryOptions().ttl_s;
  std::string bind_ = "127.0.0.1";
  std::string advertise_;
  DiscoveryRange discovery_;
  std::string placement_ = "ketama";
  double weight_ = 1.0;
  int rpc_threads_ = 512;
  int event_loops_ = 0;
  int idle_timeout_ms_ = 120000;
  int frame_timeout_ms_ = 10000;
  int max_connections_ = 10000;
  int64_t max_buffered_bytes_ = int64_t{1} << 30;
  std::unique_ptr<TlsFlags> tls_;
  int sync_interval_ms_ = 1000;
  bool gossip_ = true;
  int gossip_port_ = 0;
  std::string cluster_key_file_;
  int64_t probe_interval_ms_ = 1000;
  int64_t probe_timeout_ms_ = 500;
  int indirect_checks_ = 3;
  int suspicion_mult_ = 4;
  int retransmit_mult_ = 4;
  int64_t push_pull_interval_ms_ = 30000;
};

// Raises the soft limit on open descriptors towards `wanted` (at most the hard limit), so that
// --max-connections, not a default of 1024, bounds the connections a node takes.
void RaiseOpenFileLimit(int64_t wanted);

// Installs SIGINT/SIGTERM handling: the first signal makes WaitForStopSignal() return; the
// second exits at once (status 130).
void InstallStopSignals();
// Blocks until SIGINT or SIGTERM; returns the signal number.
int WaitForStopSignal();

}  // namespace thrifty::cli
