#include "tools/common/node_flags.h"

#include <csignal>
#include <cstring>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>

#include "locator/rpc/address.h"

namespace thrifty::cli {

NodeFlags::NodeFlags(CommandLine& command) {
  command.option("--port", port_, "Thrift port to serve on; 0 takes the first free port from --discover-from");
  command.option("--peer", peer_, "HOST:PORT[,HOST:PORT...] of nodes to join through; without it (and without "
                                  "--discovery) the node looks for a node on 127.0.0.1 (see --discover-from) "
                                  "or starts a cluster")
      .type_name("HOST:PORT,...");
  command.option("--discovery", discovery_url_,
                 "find the cluster in etcd and register this node there: it joins through the "
                 "nodes registered under PREFIX (a new cluster if none admits it) and keeps its "
                 "own entry PREFIX/members/HOST:PORT alive under a lease; PORT defaults to 2379, "
                 "PREFIX to thrifty; not with --peer")
      .type_name("etcd://HOST:PORT/PREFIX");
  command.option("--discovery-ttl-s", discovery_ttl_s_,
                 "with --discovery: the lease of this node's entry; a crashed node's entry is gone "
                 "this long after its last renewal (2..3600)");
  command.option("--bind", bind_, "address to listen on").type_name("ADDR");
  command.option("--advertise", advertise_, "address peers use to reach this node (default: --bind)")
      .type_name("ADDR");
  discovery_.add_flags(command);
  command.option("--placement", placement_,
                 "key placement: ketama, rendezvous/HASH (HASH: md5, siphash, xxh64, xxh3, fnv1a)");
  command.option("--weight", weight_, "this node's share of the ring relative to others (> 0)");
  command.option("--rpc-threads", rpc_threads_,
                 "most calls run at once (worker threads, started as calls need them; idle and "
                 "slow connections hold none)");
  command.option("--event-loops", event_loops_,
                 "threads that read and write every connection (0: one per core)");
  command.option("--idle-timeout-ms", idle_timeout_ms_,
                 "close a connection that sent and was sent nothing for this long");
  command.option("--frame-timeout-ms", frame_timeout_ms_,
                 "close a connection whose request does not arrive whole within this");
  command.option("--max-connections", max_connections_,
                 "connections open at once; more are closed as soon as they are accepted");
  tls_ = std::make_unique<TlsFlags>(command, /*server=*/true);
  command.option("--max-buffered-bytes", max_buffered_bytes_,
                 "bytes of incomplete requests all connections may hold; the connection that "
                 "would exceed it is closed (raised to at least one frame of the largest size)");
  command.option("--sync-interval-ms", sync_interval_ms_,
                 "without gossip: how often the node exchanges its view with a random peer");
  command.flag("--gossip,!--no-gossip", gossip_,
               "detect failures and spread membership with SWIM gossip over UDP (default: on)");
  command.option("--gossip-port", gossip_port_, "UDP port of the gossip endpoint (default: the Thrift port's number)");
  command.option("--cluster-key-file", cluster_key_file_,
                 "file of cluster keys, one hex key per line (first signs, all verify); required "
                 "unless the node listens on loopback only")
      .type_name("FILE");
  command.option("--probe-interval-ms", probe_interval_ms_, "gossip: one member is probed per interval");
  command.option("--probe-timeout-ms", probe_timeout_ms_, "gossip: wait this long for an ack before indirect probes");
  command.option("--indirect-checks", indirect_checks_, "gossip: members asked to probe a silent member for us");
  command.option("--suspicion-mult", suspicion_mult_, "gossip: suspicion timeout multiplier (x log10 N x interval)");
  command.option("--retransmit-mult", retransmit_mult_, "gossip: each update is sent about this x log10(N+1) times");
  command.option("--push-pull-interval-ms", push_pull_interval_ms_, "gossip: full state exchange with a random member");
}

locator::NodeOptions NodeFlags::options() const {
  locator::NodeOptions options;
  if (port_ < 0 || port_ > 65535) Fail(2, "--port must be in 0..65535");
  discovery_.check();
  if (!(weight_ > 0)) Fail(2, "--weight must be > 0");
  if (rpc_threads_ < 4) Fail(2, "--rpc-threads must be at least 4");
  if (event_loops_ < 0 || event_loops_ > 64) Fail(2, "--event-loops must be in 0..64");
  if (idle_timeout_ms_ < 100) Fail(2, "--idle-timeout-ms must be at least 100");
  if (frame_timeout_ms_ < 100) Fail(2, "--frame-timeout-ms must be at least 100");
  if (max_connections_ < 1) Fail(2, "--max-connections must be at least 1");
  if (max_buffered_bytes_ < (1 << 20)) Fail(2, "--max-buffered-bytes must be at least 1048576");
  if (sync_interval_ms_ < 10) Fail(2, "--sync-interval-ms must be at least 10");
  options.port = port_;
  options.bind_address = bind_;
  options.advertise_address = advertise_;
  options.discover_first = discovery_.from;
  options.discover_last = discovery_.to;
  options.placement = placement_;
  options.weight = weight_;
  options.server.bind_address = bind_;
  options.server.workers = rpc_threads_;
  options.server.loops = event_loops_;
  options.server.idle_timeout_ms = idle_timeout_ms_;
  options.server.frame_timeout_ms = frame_timeout_ms_;
  options.server.max_connections = max_connections_;
  options.server.max_buffered_bytes = max_buffered_bytes_;
  // The same certificate serves clients and is presented to peers (mutual TLS between nodes).
  options.server.tls = tls_->server_context();
  options.pool.tls = tls_->client_factory();
  options.channel_tls = tls_->client_context();
  options.sync_interval_ms = sync_interval_ms_;
  options.gossip = gossip_;
  if (gossip_port_ < 0 || gossip_port_ > 65535) Fail(2, "--gossip-port must be in 0..65535");
  options.gossip_port = gossip_port_;
  options.swim.probe_interval_ms = probe_interval_ms_;
  options.swim.probe_timeout_ms = probe_timeout_ms_;
  options.swim.indirect_checks = indirect_checks_;
  options.swim.suspicion_mult = suspicion_mult_;
  options.swim.retransmit_mult = retransmit_mult_;
  options.swim.push_pull_interval_ms = push_pull_interval_ms_;
  if (const std::string problem = options.swim.validate(); !problem.empty()) {
    Fail(2, "gossip options: " + problem);
  }
  if (!cluster_key_file_.empty()) {
    try {
      options.keys = std::make_shared<const membership::KeyRing>(
          membership::KeyRing::FromFile(cluster_key_file_));
    } catch (const std::exception& e) {
      Fail(2, std::string("--cluster-key-file: ") + e.what());
    }
  }
  try {
    options.peers = rpc::ParseLocations(peer_);
  } catch (const std::exception& e) {
    Fail(2, std::string("--peer: ") + e.what());
  }
  if (!discovery_url_.empty()) {
    if (!options.peers.empty()) {
      Fail(2, "--discovery and --peer cannot be combined: the seeds come from one or the other");
    }
    discovery::EtcdDiscoveryOptions etcd;
    try {
      etcd.url = discovery::ParseDiscoveryUrl(discovery_url_);
    } catch (const std::exception& e) {
      Fail(2, std::string("--discovery: ") + e.what());
    }
    etcd.ttl_s = discovery_ttl_s_;
    if (const std::string problem = etcd.validate(); !problem.empty()) Fail(2, problem);
    options.etcd = std::move(etcd);
  } else if (discovery_ttl_s_ != discovery::EtcdDiscoveryOptions().ttl_s) {
    Fail(2, "--discovery-ttl-s needs --discovery");
  }
  return options;
}

namespace {
int stop_pipe[2] = {-1, -1};
volatile sig_atomic_t signals_seen = 0;

void OnStopSignal(int sig) {
  if (signals_seen++ > 0) _exit(130);
  const unsigned char byte = static_cast<unsigned char>(sig);
  [[maybe_unused]] ssize_t n = write(stop_pipe[1], &byte, 1);
}
}  // namespace

void RaiseOpenFileLimit(int64_t wanted) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  const rlim_t target = std::min<rlim_t>(limit.rlim_max, static_cast<rlim_t>(wanted));
  if (limit.rlim_cur >= target) return;
  limit.rlim_cur = target;
  setrlimit(RLIMIT_NOFILE, &limit);
}

void InstallStopSignals() {
  if (pipe(stop_pipe) != 0) Fail(1, std::string("pipe: ") + std::strerror(errno));
  struct sigaction action {};
  action.sa_handler = OnStopSignal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

int WaitForStopSignal() {
  unsigned char byte = 0;
  while (read(stop_pipe[0], &byte, 1) != 1) {
    if (errno != EINTR) break;
  }
  return byte;
}

}  // namespace thrifty::cli
