#include "tools/common/client_flags.h"

#include "locator/rpc/address.h"
#include "locator/service/discovery.h"

namespace thrifty::cli {

ClientFlags::ClientFlags(CommandLine& command) : tls_(command, /*server=*/false) {
  command.option("--peer", peer_, "HOST:PORT of a node of the cluster (default: the first diststore node "
                                  "found on 127.0.0.1, ports --discover-from..--discover-to)")
      .type_name("HOST:PORT");
  discovery_.add_flags(command);
  command.option("--timeout-ms", timeout_ms_, "deadline of each request");
  command.flag("--direct", direct_, "send every request to --peer and let it forward (no client-side ring)");
}

locator::wire::Location ClientFlags::EntryNode() const {
  if (!peer_.empty()) {
    try {
      return rpc::ParseLocation(peer_);
    } catch (const std::exception& e) {
      Fail(2, std::string("--peer: ") + e.what());
    }
  }
  discovery_.check();
  auto found = locator::DiscoverPeer("127.0.0.1", discovery_.from, discovery_.to, 0,
                                     "diststore.Store", 300, Tls());
  if (!found) {
    Fail(2, "no diststore node found on 127.0.0.1:" + std::to_string(discovery_.from) + "-" +
                std::to_string(discovery_.to) + " (start one with storeserver, or give --peer)");
  }
  return *found;
}

int ClientFlags::TimeoutMs() const {
  if (timeout_ms_ < 1) Fail(2, "--timeout-ms must be >= 1");
  return timeout_ms_;
}

std::unique_ptr<client::ClusterClient> ClientFlags::Connect() const {
  TimeoutMs();
  client::ClientOptions options;
  options.seeds = {EntryNode()};
  options.ring_aware = !direct_;
  options.pool.call_timeout_ms = TimeoutMs();
  options.pool.limits = rpc::RpcLimits::ForValueSize(256 << 20);
  options.pool.tls = Tls();
  try {
    return std::make_unique<client::ClusterClient>(options);
  } catch (const std::exception& e) {
    Fail(2, tls_.explain(e.what()));
  }
}

}  // namespace thrifty::cli
