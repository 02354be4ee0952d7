// MeteredPeerClient: a PeerClient that forwards every call to another one and counts the bytes
// the answered calls put on the wire, in each direction.
//
// A call's bytes are its framed Thrift message as the binary protocol encodes it: the 4-byte
// frame length, the message header (version, name, sequence id) and the arguments; a reply's
// likewise, with the result struct. TLS records and TCP/IP headers are not counted. A call that
// fails (the peer unreachable, a StoreError) counts nothing in either direction.
//
// Anti-entropy meters its peer calls with it (repair_bytes_sent / repair_bytes_received) so a
// repair of identical replicas can be checked to exchange only a few bytes per range.
// Thread-safe when the wrapped client is.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "diststore/service/peer_client.h"

namespace thrifty::diststore {

class MeteredPeerClient : public PeerClient {
 public:
  // `inner` must outlive this object.
  explicit MeteredPeerClient(PeerClient& inner) : inner_(inner) {}

  std::vector<wire::Record> owner_get(const Location& peer, const std::vector<std::string>& keys,
                                     bool fallback) override;
  void owner_put(const Location& peer, const std::vector<wire::Record>& records,
                 wire::Consistency::type consistency) override;
  wire::HandoffAck handoff(const Location& peer, const std::vector<wire::Record>& records,
                          const Location& sender) override;
  wire::RangeRoots repair_roots(const Location& peer, const Location& asker,
                                int64_t fingerprint) override;
  std::vector<int64_t> repair_tree(const Location& peer, int64_t range, int32_t level,
                                   const std::vector<int32_t>& indexes,
                                   int64_t fingerprint) override;
  wire::LeafPage repair_leaves(const Location& peer, const std::vector<wire::LeafRef>& leaves,
                               const std::string& after_key, int64_t fingerprint) override;
  // Passed through unmetered: a rebuild asks it of its peers (their handoff_settled_ring), it
  // moves no anti-entropy data. (Without it the default refused, and a first join never ended
  // its rebuild.)
  std::map<std::string, int64_t> stats(const Location& peer) override { return inner_.stats(peer); }

  // Bytes of the calls sent and of the replies received so far.
  int64_t bytes_sent() const { return sent_.load(std::memory_order_relaxed); }
  int64_t bytes_received() const { return received_.load(std::memory_order_relaxed); }

 private:
  void count(int64_t sent, int64_t received);

  PeerClient& inner_;
  std::atomic<int64_t> sent_{0}, received_{0};
};

}  // namespace thrifty::diststore
