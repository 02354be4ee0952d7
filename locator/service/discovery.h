// Zero-config discovery: find a running node of the wanted service type on this machine.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "locator_types.h"

namespace apache::thrift::transport {
class TSSLSocketFactory;
}

namespace thrifty::locator {

// Probes `address` ports first..last (skipping `skip_port`) in order and returns the first one
// whose service_type() is `service_type`. Each probe is bounded by `timeout_ms`; with `tls`
// (rpc/tls.h) the probes speak TLS. Never throws.
std::optional<wire::Location> DiscoverPeer(
    const std::string& address, int first, int last, int skip_port,
    const std::string& service_type, int timeout_ms = 300,
    std::shared_ptr<apache::thrift::transport::TSSLSocketFactory> tls = nullptr);

}  // namespace thrifty::locator
