#include "tools/common/client_flags.h"

#include <gflags/gflags.h>

#include "locator/rpc/address.h"
#include "locator/service/discovery.h"
#include "tools/common/cli.h"

DEFINE_string(peer, "", "HOST:PORT of a node of the cluster (default: the first diststore node "
                        "found on 127.0.0.1, ports --discover-from..--discover-to)");
DEFINE_int32(discover_from, 9900, "first port of the local discovery range");
DEFINE_int32(discover_to, 9939, "last port of the local discovery range");
DEFINE_int32(timeout_ms, 10000, "deadline of each request");
DEFINE_bool(direct, false, "send every request to --peer and let it forward (no client-side ring)");

namespace thrifty::cli {

rpc::Location EntryNodeFromFlags() {
  if (!FLAGS_peer.empty()) {
    try {
      return rpc::ParseLocation(FLAGS_peer);
    } catch (const std::exception& e) {
      Fail(2, std::string("--peer: ") + e.what());
    }
  }
  if (FLAGS_discover_from < 1 || FLAGS_discover_to > 65535 || FLAGS_discover_from > FLAGS_discover_to) {
    Fail(2, "--discover-from/--discover-to must be a range within 1..65535");
  }
  auto found = locator::DiscoverPeer("127.0.0.1", FLAGS_discover_from, FLAGS_discover_to, 0,
                                     "diststore.Store");
  if (!found) {
    Fail(2, "no diststore node found on 127.0.0.1:" + std::to_string(FLAGS_discover_from) + "-" +
                std::to_string(FLAGS_discover_to) + " (start one with storeserver, or give --peer)");
  }
  return *found;
}

std::unique_ptr<client::ClusterClient> ConnectFromFlags() {
  if (FLAGS_timeout_ms < 1) Fail(2, "--timeout-ms must be >= 1");
  client::ClientOptions options;
  options.seeds = {EntryNodeFromFlags()};
  options.ring_aware = !FLAGS_direct;
  options.pool.call_timeout_ms = FLAGS_timeout_ms;
  options.pool.limits = rpc::RpcLimits::ForValueSize(256 << 20);
  try {
    return std::make_unique<client::ClusterClient>(options);
  } catch (const std::exception& e) {
    Fail(2, e.what());
  }
}

}  // namespace thrifty::cli
