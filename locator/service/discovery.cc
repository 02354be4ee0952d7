#include "locator/service/discovery.h"

#include <glog/logging.h>

#include "Base.h"
#include "locator/rpc/connection_pool.h"

namespace thrifty::locator {

std::optional<wire::Location> DiscoverPeer(
    const std::string& address, int first, int last, int skip_port,
    const std::string& service_type, int timeout_ms,
    std::shared_ptr<apache::thrift::transport::TSSLSocketFactory> tls) {
  rpc::PoolOptions options;
  options.tls = std::move(tls);
  options.connect_timeout_ms = timeout_ms;
  options.call_timeout_ms = timeout_ms;
  options.max_idle_per_peer = 0;
  rpc::ConnectionPool<wire::BaseClient> pool(options);
  for (int port = first; port <= last; ++port) {
    if (port == skip_port) continue;
    const wire::Location candidate = rpc::MakeLocation(address, port);
    try {
      std::string type;
      pool.call(candidate, [&](wire::BaseClient& client) { client.service_type(type); });
      if (type == service_type) return candidate;
      VLOG(1) << "discovery: " << rpc::ToString(candidate) << " serves " << type << ", not "
              << service_type;
    } catch (const std::exception&) {
      // nothing there, or not a thrifty node
    }
  }
  return std::nullopt;
}

}  // namespace thrifty::locator
