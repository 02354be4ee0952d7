// Host ID: who a node is, as opposed to where it listens.
//
// A durable node keeps a random UUID in its data dir (file HOST_ID) from its first start on, so
// a restart on the same data keeps it, and a node that comes back at a known address with a
// wiped or new data dir has a new one: the cluster then knows it is a new node without the old
// one's data, not the old node. A --memory node gets a fresh ID on every start.
#pragma once

#include <string>

namespace thrifty::storage {

// A random RFC 4122 version-4 UUID ("xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx"). Throws
// std::runtime_error if the system has no random bytes.
std::string NewHostId();

// The host ID stored in `data_dir`/HOST_ID, created (written to a temporary file, synced, then
// renamed) when missing; `created` (if given) tells whether it was (a new data dir: the node
// holds none of the data an earlier node at its address had). `data_dir` must exist. Throws
// std::runtime_error naming the file if it cannot be read or written, or holds something that
// is not a host ID.
std::string LoadOrCreateHostId(const std::string& data_dir, bool* created = nullptr);

}  // namespace thrifty::storage
