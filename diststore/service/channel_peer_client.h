// ChannelPeerClient: the node's PeerClient, on peer channels (locator/rpc/peer_channel.h).
//
// One channel per peer, made on first use: a few connections that carry every call to that
// peer, pipelined, set up with `options.prologue` (the peer handshake, PeerAuth) and TLS when
// the options say. Each call is answered by `call_timeout_ms` or fails with
// TTransportException(TIMED_OUT).
//
// The *_async forms hold no thread while the peer works. The blocking forms start the same call
// and wait for it on the caller's thread: never call them on a channel loop thread (the loop
// that would read the reply would be the one waiting). Thread-safe.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "diststore/service/peer_client.h"
#include "locator/rpc/client_loops.h"
#include "locator/rpc/peer_channel.h"

namespace thrifty::diststore {

class ChannelPeerClient : public PeerClient {
 public:
  // `loops` must outlive this object.
  ChannelPeerClient(rpc::ClientLoops& loops, rpc::ChannelOptions options, int call_timeout_ms);
  // Closes every channel: calls not yet answered fail.
  ~ChannelPeerClient() override;
  // Closes every channel (calls not yet answered fail, on their loops) and refuses every call
  // from now on, on the caller's thread. Idempotent.
  void close();

  std::vector<wire::Record> owner_get(const Location& peer, const std::vector<std::string>& keys,
                                      bool fallback) override;
  void owner_put(const Location& peer, const std::vector<wire::Record>& records,
                 wire::Consistency::type consistency) override;
  wire::HandoffAck handoff(const Location& peer, const std::vector<wire::Record>& records,
                           const Location& sender) override;
  void keep_hints(const Location& peer, const std::vector<wire::Record>& records,
                  const std::string& target_host_id, const Location& target) override;
  wire::RangeRoots repair_roots(const Location& peer, const Location& asker,
                                int64_t fingerprint) override;
  std::vector<int64_t> repair_tree(const Location& peer, int64_t range, int32_t level,
                                   const std::vector<int32_t>& indexes,
                                   int64_t fingerprint) override;
  wire::LeafPage repair_leaves(const Location& peer, const std::vector<wire::LeafRef>& leaves,
                               const std::string& after_key, int64_t fingerprint) override;
  std::map<std::string, int64_t> stats(const Location& peer) override;

  void owner_get_async(const Location& peer, std::vector<std::string> keys, bool fallback,
                       rpc::OutcomeHandler<std::vector<wire::Record>> done) override;
  void owner_put_async(const Location& peer, std::vector<wire::Record> records,
                       wire::Consistency::type consistency, rpc::OutcomeHandler<bool> done) override;
  void keep_hints_async(const Location& peer, std::vector<wire::Record> records,
                        std::string target_host_id, Location target,
                        rpc::OutcomeHandler<bool> done) override;
  void handoff_async(const Location& peer, std::vector<wire::Record> records, Location sender,
                     rpc::OutcomeHandler<wire::HandoffAck> done) override;

  const rpc::PeerCallCounters& counters() const { return *options_.counters; }

 private:
  // Which of a peer's channels a call takes. A server answers one connection's calls in order,
  // so a call that waits on other nodes holds up every call behind it on its connection. Calls
  // are kept apart by what they may wait for, and each kind waits only for kinds below it:
  // kCoordinate (a write to lead, a read with fallback: they wait on replicas and holders) >
  // kReplica (a replica's versioned copy: it may hand records on by handoff) > kLeaf (handoff,
  // hints, replica reads, repair, stats: answered from the peer's own data). No cycle of calls
  // waiting behind each other across nodes can form (with one channel for all, two draining or
  // joining nodes could each hold the other's handoff behind an owner_put forwarding to it).
  enum class Lane { kCoordinate, kReplica, kLeaf };
  std::shared_ptr<rpc::PeerChannel> channel(const Location& peer, Lane lane);
  rpc::PeerChannel::Clock::time_point deadline() const;
  // Starts a call of the Store client on `peer`'s channel.
  template <class Result, class Send, class Recv>
  void start(const Location& peer, Lane lane, Send send, Recv recv,
             rpc::OutcomeHandler<Result> done);
  // Starts a call with `call` and waits for its outcome; returns the result or throws the error.
  template <class Result>
  Result wait(const std::function<void(rpc::OutcomeHandler<Result>)>& call);
  template <class Result, class Send, class Recv>
  Result wait(const Location& peer, Lane lane, Send send, Recv recv);

  rpc::ClientLoops& loops_;
  const rpc::ChannelOptions options_;
  const int call_timeout_ms_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<rpc::PeerChannel>> channels_;
  bool closed_ = false;  // under mu_
};

}  // namespace thrifty::diststore
