// The flags every client command shares (--peer, discovery, timeouts) and the client they make.
#pragma once

#include <memory>

#include "diststore/client/cluster_client.h"

namespace thrifty::cli {

// Connects to --peer, or to the first diststore node found on 127.0.0.1 in the discovery
// range. Exits 2 on a bad flag value, 1 (with one line on stderr) when no node answers.
std::unique_ptr<client::ClusterClient> ConnectFromFlags();

// The node --peer names, or the one discovery finds (same exits as above).
rpc::Location EntryNodeFromFlags();

}  // namespace thrifty::cli
