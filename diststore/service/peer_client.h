// PeerClient: the node-to-node calls of the Store service, one method per RPC, to any peer.
//
// A seam: the node uses ChannelPeerClient (peer channels that prove the cluster key);
// unit tests pass fakes that answer from maps or fail on demand. Thread-safe.
//
// Every method throws wire::StoreError when the peer answered with one (its own words, for
// the client), and anything else (TTransportException, locator::wire::Unauthorized, ...) when the call
// failed: the peer is unreachable, too slow, or not a member.
//
// The *_async forms start the call and return: `done` runs once with the result or that
// exception, on a peer-channel loop thread (where it must not block) or on the caller's thread.
// The node's client (ChannelPeerClient) sends them without a thread waiting; the defaults here
// run the blocking form on the caller's thread (fakes).
#pragma once

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "Store.h"
#include "locator/rpc/address.h"
#include "locator/rpc/channel_call.h"
#include "locator/rpc/connection_pool.h"

namespace thrifty::diststore {

using locator::wire::Location;

class PeerClient {
 public:
  virtual ~PeerClient() = default;
  virtual std::vector<wire::Record> owner_get(const Location& peer,
                                             const std::vector<std::string>& keys,
                                             bool fallback) = 0;
  // `consistency`: how many replicas a write this peer leads waits for (records of version 0,
  // --replicas > 1); versioned records are the peer's own copy and ignore it.
  virtual void owner_put(const Location& peer, const std::vector<wire::Record>& records,
                         wire::Consistency::type consistency) = 0;
  virtual wire::HandoffAck handoff(const Location& peer, const std::vector<wire::Record>& records,
                                  const Location& sender) = 0;
  // Keeps `records` here as hints for the DEAD replica `target` (--hints-count-for-w). A client
  // without it (a unit test's fake) throws std::runtime_error.
  virtual void keep_hints(const Location& peer, const std::vector<wire::Record>& records,
                          const std::string& target_host_id, const Location& target) {
    (void)records, (void)target_host_id, (void)target;
    throw std::runtime_error("keep_hints: not supported by this client of " + rpc::ToString(peer));
  }

  virtual void owner_get_async(const Location& peer, std::vector<std::string> keys, bool fallback,
                               rpc::OutcomeHandler<std::vector<wire::Record>> done) {
    RunNow<std::vector<wire::Record>>([&] { return owner_get(peer, keys, fallback); }, done);
  }
  virtual void owner_put_async(const Location& peer, std::vector<wire::Record> records,
                               wire::Consistency::type consistency, rpc::OutcomeHandler<bool> done) {
    RunNow<bool>(
        [&] {
          owner_put(peer, records, consistency);
          return true;
        },
        done);
  }
  virtual void handoff_async(const Location& peer, std::vector<wire::Record> records,
                             Location sender, rpc::OutcomeHandler<wire::HandoffAck> done) {
    RunNow<wire::HandoffAck>([&] { return handoff(peer, records, sender); }, done);
  }
  virtual void keep_hints_async(const Location& peer, std::vector<wire::Record> records,
                                std::string target_host_id, Location target,
                                rpc::OutcomeHandler<bool> done) {
    RunNow<bool>(
        [&] {
          keep_hints(peer, records, target_host_id, target);
          return true;
        },
        done);
  }

  // Anti-entropy (anti_entropy.h). A client without them (a unit test's fake) throws
  // std::runtime_error.
  virtual wire::RangeRoots repair_roots(const Location& peer, const Location& asker,
                                        int64_t fingerprint) {
    (void)asker, (void)fingerprint;
    throw std::runtime_error("repair_roots: not supported by this client of " + rpc::ToString(peer));
  }
  virtual std::vector<int64_t> repair_tree(const Location& peer, int64_t range, int32_t level,
                                           const std::vector<int32_t>& indexes,
                                           int64_t fingerprint) {
    (void)range, (void)level, (void)indexes, (void)fingerprint;
    throw std::runtime_error("repair_tree: not supported by this client of " + rpc::ToString(peer));
  }
  virtual wire::LeafPage repair_leaves(const Location& peer, const std::vector<wire::LeafRef>& leaves,
                                       const std::string& after_key, int64_t fingerprint) {
    (void)leaves, (void)after_key, (void)fingerprint;
    throw std::runtime_error("repair_leaves: not supported by this client of " + rpc::ToString(peer));
  }
  // The peer's counters (Locator.stats): a joining node reads handoff_settled_ring there.
  virtual std::map<std::string, int64_t> stats(const Location& peer) {
    throw std::runtime_error("stats: not supported by this client of " + rpc::ToString(peer));
  }

 protected:
  // Runs `call` here and hands its result or exception to `done`.
  template <class Result, class Call>
  static void RunNow(Call&& call, const rpc::OutcomeHandler<Result>& done) {
    done(rpc::OutcomeOf<Result>(call));
  }
};

}  // namespace thrifty::diststore
