#include "tools/bench/handoff_baseline.h"

#include <chrono>
#include <memory>
#include <utility>
#include <vector>

#include <thrift/TApplicationException.h>

#include "diststore/service/replica_set.h"
#include "locator/membership/member_table.h"
#include "locator/rpc/address.h"
#include "locator/service/cluster_snapshot.h"
#include "locator/service/peer_auth.h"

namespace thrifty::bench {

namespace {

using Clock = std::chrono::steady_clock;

double Since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

bool SameNode(const locator::wire::Location& a, const locator::wire::Location& b) {
  return a.port == b.port && a.address == b.address;
}

// The ring members of the cluster of `target.entry`, with `node` added if it is not one yet,
// and the cluster's placement.
std::pair<std::vector<locator::wire::Member>, std::string> MembersWith(
    const ThriftTarget& target, const locator::wire::Location& node) {
  const locator::wire::View view = FetchView(target);
  auto members = RingMembers(view);
  bool present = false;
  for (const auto& m : members) present = present || SameNode(m.location, node);
  if (!present) {
    locator::wire::Member extra;
    extra.location = node;
    extra.state = locator::wire::MemberState::ALIVE;
    members.push_back(extra);
  }
  return {members, view.placement};
}

locator::Ring RingWith(const ThriftTarget& target, const locator::wire::Location& node) {
  const auto [members, placement] = MembersWith(target, node);
  try {
    return locator::Ring(members, placement);
  } catch (const std::exception& e) {
    throw FatalError("cannot build the ring of " + rpc::ToString(target.entry) + ": " + e.what());
  }
}

std::vector<uint64_t> OwnedKeys(const locator::Ring& ring, const locator::wire::Location& node,
                                uint64_t keyspace) {
  std::vector<uint64_t> owned;
  std::string key;
  for (uint64_t i = 0; i < keyspace; ++i) {
    FormatKey(i, &key);
    if (SameNode(ring.owner(key), node)) owned.push_back(i);
  }
  return owned;
}

}  // namespace

uint64_t CountOwned(const ThriftTarget& target, const locator::wire::Location& node,
                    uint64_t keyspace, int replicas) {
  if (replicas <= 1) return OwnedKeys(RingWith(target, node), node, keyspace).size();
  auto [members, placement_name] = MembersWith(target, node);
  std::shared_ptr<const locator::ClusterSnapshot> snapshot;
  try {
    snapshot = locator::ClusterSnapshot::Build(1, std::move(members), membership::MemberName(node),
                                               placement_name, nullptr);
  } catch (const std::exception& e) {
    throw FatalError("cannot build the ring of " + rpc::ToString(target.entry) + ": " + e.what());
  }
  const diststore::ReplicaPlacement placement(*snapshot, static_cast<size_t>(replicas),
                                              /*without_self=*/false);
  const std::string name = membership::MemberName(node);
  uint64_t held = 0;
  std::string key;
  for (uint64_t i = 0; i < keyspace; ++i) {
    FormatKey(i, &key);
    held += placement.of(key).contains(name);
  }
  return held;
}

CopyResult PerKeyCopy(const ThriftTarget& target, const locator::wire::Location& node,
                      uint64_t keyspace) {
  const locator::Ring ring = RingWith(target, node);
  const std::vector<uint64_t> owned = OwnedKeys(ring, node, keyspace);
  CopyResult result;
  result.owned = owned.size();
  ThriftConnection conn = ConnectThrift(node, target);
  const std::string where = rpc::ToString(node);
  // owner_get is a node-to-node call: prove the development key, as storectl's operator
  // commands do without --cluster-key-file (the benchmark's clusters are on loopback).
  try {
    locator::PeerAuth(std::make_shared<const membership::KeyRing>(
                          membership::KeyRing::DevelopmentKey()))
        .authenticate(*conn.client);
  } catch (const apache::thrift::TException& e) {
    throw FatalError("cannot prove the development cluster key to " + where + ": " + e.what());
  }

  // What the node holds itself, read in batches (not the part being measured).
  std::vector<diststore::wire::Record> records;
  records.reserve(owned.size());
  auto start = Clock::now();
  constexpr size_t kReadBatch = 1000;
  std::vector<std::string> keys;
  std::vector<diststore::wire::Record> part;
  for (size_t first = 0; first < owned.size(); first += kReadBatch) {
    keys.clear();
    for (size_t i = first; i < owned.size() && i < first + kReadBatch; ++i) keys.push_back(KeyName(owned[i]));
    part.clear();
    try {
      conn.client->owner_get(part, keys, false);
    } catch (const apache::thrift::TException& e) {
      throw FatalError("owner_get on " + where + " failed: " + e.what());
    }
    for (auto& r : part) {
      if (!r.tombstone) records.push_back(std::move(r));
    }
  }
  result.read_seconds = Since(start);
  result.found = records.size();

  // One RPC per key.
  start = Clock::now();
  for (const auto& r : records) {
    try {
      conn.client->put(r.key, r.value, diststore::wire::Consistency::DEFAULT);
    } catch (const apache::thrift::TException& e) {
      throw FatalError("put on " + where + " failed: " + e.what());
    }
    ++result.written;
  }
  result.seconds = Since(start);
  return result;
}

}  // namespace thrifty::bench
