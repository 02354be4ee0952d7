#include "tools/common/node_flags.h"

#include <csignal>
#include <cstring>
#include <unistd.h>

#include <gflags/gflags.h>

#include "locator/rpc/address.h"
#include "tools/common/cli.h"

DEFINE_int32(port, 0, "Thrift port to serve on; 0 takes the first free port from --discover-from");
DEFINE_string(peer, "", "HOST:PORT[,HOST:PORT...] of nodes to join through; without it the node "
                        "looks for a node on 127.0.0.1 (see --discover-from) or starts a cluster");
DEFINE_string(bind, "127.0.0.1", "address to listen on");
DEFINE_string(advertise, "", "address peers use to reach this node (default: --bind)");
DEFINE_int32(discover_from, 9900, "first port of the local discovery range");
DEFINE_int32(discover_to, 9939, "last port of the local discovery range");
DEFINE_string(placement, "ketama",
              "key placement: ketama, rendezvous/HASH (HASH: md5, siphash, xxh64, xxh3, fnv1a)");
DEFINE_double(weight, 1.0, "this node's share of the ring relative to others (> 0)");
DEFINE_int32(rpc_threads, 512, "most connections served at once");
DEFINE_int32(sync_interval_ms, 1000,
             "without gossip: how often the node exchanges its view with a random peer");
DEFINE_bool(gossip, true, "detect failures and spread membership with SWIM gossip over UDP");
DEFINE_int32(gossip_port, 0, "UDP port of the gossip endpoint (default: the Thrift port's number)");
DEFINE_string(cluster_key_file, "",
              "file of cluster keys, one hex key per line (first signs, all verify); required "
              "unless the node listens on loopback only");
DEFINE_int64(probe_interval_ms, 1000, "gossip: one member is probed per interval");
DEFINE_int64(probe_timeout_ms, 500, "gossip: wait this long for an ack before indirect probes");
DEFINE_int32(indirect_checks, 3, "gossip: members asked to probe a silent member for us");
DEFINE_int32(suspicion_mult, 4, "gossip: suspicion timeout multiplier (x log10 N x interval)");
DEFINE_int32(retransmit_mult, 4, "gossip: each update is sent about this x log10(N+1) times");
DEFINE_int64(push_pull_interval_ms, 30000, "gossip: full state exchange with a random member");

namespace thrifty::cli {

locator::NodeOptions NodeOptionsFromFlags() {
  locator::NodeOptions options;
  if (FLAGS_port < 0 || FLAGS_port > 65535) Fail(2, "--port must be in 0..65535");
  if (FLAGS_discover_from < 1 || FLAGS_discover_to > 65535 || FLAGS_discover_from > FLAGS_discover_to) {
    Fail(2, "--discover-from/--discover-to must be a range within 1..65535");
  }
  if (!(FLAGS_weight > 0)) Fail(2, "--weight must be > 0");
  if (FLAGS_rpc_threads < 4) Fail(2, "--rpc-threads must be at least 4");
  if (FLAGS_sync_interval_ms < 10) Fail(2, "--sync-interval-ms must be at least 10");
  options.port = FLAGS_port;
  options.bind_address = FLAGS_bind;
  options.advertise_address = FLAGS_advertise;
  options.discover_first = FLAGS_discover_from;
  options.discover_last = FLAGS_discover_to;
  options.placement = FLAGS_placement;
  options.weight = FLAGS_weight;
  options.server.bind_address = FLAGS_bind;
  options.server.workers = FLAGS_rpc_threads;
  options.sync_interval_ms = FLAGS_sync_interval_ms;
  options.gossip = FLAGS_gossip;
  if (FLAGS_gossip_port < 0 || FLAGS_gossip_port > 65535) Fail(2, "--gossip-port must be in 0..65535");
  options.gossip_port = FLAGS_gossip_port;
  options.swim.probe_interval_ms = FLAGS_probe_interval_ms;
  options.swim.probe_timeout_ms = FLAGS_probe_timeout_ms;
  options.swim.indirect_checks = FLAGS_indirect_checks;
  options.swim.suspicion_mult = FLAGS_suspicion_mult;
  options.swim.retransmit_mult = FLAGS_retransmit_mult;
  options.swim.push_pull_interval_ms = FLAGS_push_pull_interval_ms;
  if (const std::string problem = options.swim.validate(); !problem.empty()) {
    Fail(2, "gossip options: " + problem);
  }
  if (!FLAGS_cluster_key_file.empty()) {
    try {
      options.keys = std::make_shared<const membership::KeyRing>(
          membership::KeyRing::FromFile(FLAGS_cluster_key_file));
    } catch (const std::exception& e) {
      Fail(2, std::string("--cluster-key-file: ") + e.what());
    }
  }
  try {
    options.peers = rpc::ParseLocations(FLAGS_peer);
  } catch (const std::exception& e) {
    Fail(2, std::string("--peer: ") + e.what());
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
