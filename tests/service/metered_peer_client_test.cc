// MeteredPeerClient counts what the generated Thrift code puts on the wire: the peers here are
// a real StoreClient talking through memory buffers to a real StoreProcessor (over a handler
// with canned answers), so the bytes of every call and reply are known independently of the
// meter; a failed call counts nothing.
#include "diststore/service/metered_peer_client.h"

#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/transport/TBufferTransports.h>

namespace thrifty::diststore {
namespace {

using apache::thrift::protocol::TBinaryProtocol;
using apache::thrift::transport::TMemoryBuffer;

constexpr int64_t kFrameHeaderBytes = 4;

wire::Record RecordOf(const std::string& key, const std::string& value, int64_t version) {
  wire::Record r;
  r.key = key;
  r.value = value;
  r.version = version;
  return r;
}

Location At(int port) {
  Location l;
  l.address = "127.0.0.1";
  l.port = port;
  return l;
}

// Answers of a peer, whatever it is asked.
class CannedHandler : public wire::StoreNull {
 public:
  void owner_get(std::vector<wire::Record>& out, const std::vector<std::string>& keys, bool) override {
    for (const auto& key : keys) out.push_back(RecordOf(key, std::string(100, 'v'), 42));
  }
  void handoff(wire::HandoffAck& out, const std::vector<wire::Record>& records, const Location&) override {
    out.applied = static_cast<int64_t>(records.size());
  }
  void repair_roots(wire::RangeRoots& out, const Location&, int64_t fingerprint) override {
    out.ring_fingerprint = fingerprint;
    for (int i = 0; i < ranges; ++i) {
      wire::RangeRoot root;
      root.range_id = 1000 + i;
      root.replicas = {At(7001), At(7002), At(7003)};
      root.root_hash = 77 * i;
      out.ranges.push_back(root);
    }
  }
  void repair_tree(std::vector<int64_t>& out, int64_t, int32_t, const std::vector<int32_t>& indexes,
                   int64_t) override {
    for (int32_t i : indexes) out.push_back(i * 31);
  }
  void repair_leaves(wire::LeafPage& out, const std::vector<wire::LeafRef>& leaves, const std::string&,
                     int64_t) override {
    for (const auto& ref : leaves) {
      wire::LeafEntry e;
      e.key = "key-" + std::to_string(ref.leaf);
      e.version = ref.leaf;
      out.entries.push_back(e);
    }
  }
  int ranges = 0;
};

// A PeerClient whose calls go through the generated client and processor; it adds up the
// frames they wrote, and fails (as an unreachable peer) while `down`.
class LoopbackPeers : public PeerClient {
 public:
  LoopbackPeers() : handler_(std::make_shared<CannedHandler>()), processor_(handler_) {}

  std::vector<wire::Record> owner_get(const Location&, const std::vector<std::string>& keys,
                                     bool fallback) override {
    std::vector<wire::Record> out;
    round_trip([&](wire::StoreClient& c) { c.send_owner_get(keys, fallback); },
               [&](wire::StoreClient& c) { c.recv_owner_get(out); });
    return out;
  }
  void owner_put(const Location&, const std::vector<wire::Record>& records,
                 wire::Consistency::type consistency) override {
    round_trip([&](wire::StoreClient& c) { c.send_owner_put(records, consistency); },
               [&](wire::StoreClient& c) { c.recv_owner_put(); });
  }
  wire::HandoffAck handoff(const Location&, const std::vector<wire::Record>& records,
                          const Location& sender) override {
    wire::HandoffAck ack;
    round_trip([&](wire::StoreClient& c) { c.send_handoff(records, sender); },
               [&](wire::StoreClient& c) { c.recv_handoff(ack); });
    return ack;
  }
  wire::RangeRoots repair_roots(const Location&, const Location& asker, int64_t fingerprint) override {
    wire::RangeRoots roots;
    round_trip([&](wire::StoreClient& c) { c.send_repair_roots(asker, fingerprint); },
               [&](wire::StoreClient& c) { c.recv_repair_roots(roots); });
    return roots;
  }
  std::vector<int64_t> repair_tree(const Location&, int64_t range, int32_t level,
                                   const std::vector<int32_t>& indexes, int64_t fingerprint) override {
    std::vector<int64_t> hashes;
    round_trip([&](wire::StoreClient& c) { c.send_repair_tree(range, level, indexes, fingerprint); },
               [&](wire::StoreClient& c) { c.recv_repair_tree(hashes); });
    return hashes;
  }
  wire::LeafPage repair_leaves(const Location&, const std::vector<wire::LeafRef>& leaves,
                               const std::string& after_key, int64_t fingerprint) override {
    wire::LeafPage page;
    round_trip([&](wire::StoreClient& c) { c.send_repair_leaves(leaves, after_key, fingerprint); },
               [&](wire::StoreClient& c) { c.recv_repair_leaves(page); });
    return page;
  }

  CannedHandler& handler() { return *handler_; }
  bool down = false;
  int64_t sent = 0, received = 0;

 private:
  template <typename Send, typename Receive>
  void round_trip(Send&& send, Receive&& receive) {
    if (down) {
      throw apache::thrift::transport::TTransportException(
          apache::thrift::transport::TTransportException::NOT_OPEN, "connection refused");
    }
    auto request = std::make_shared<TMemoryBuffer>();
    auto reply = std::make_shared<TMemoryBuffer>();
    wire::StoreClient client(std::make_shared<TBinaryProtocol>(reply), std::make_shared<TBinaryProtocol>(request));
    send(client);
    sent += kFrameHeaderBytes + request->available_read();
    ASSERT_TRUE(processor_.process(std::make_shared<TBinaryProtocol>(request),
                                   std::make_shared<TBinaryProtocol>(reply), nullptr));
    received += kFrameHeaderBytes + reply->available_read();
    receive(client);
  }

  std::shared_ptr<CannedHandler> handler_;
  wire::StoreProcessor processor_;
};

TEST(MeteredPeerClient, CountsTheFramesTheGeneratedCodeWritesForEveryCall) {
  LoopbackPeers peers;
  MeteredPeerClient metered(peers);
  EXPECT_EQ(metered.bytes_sent(), 0);
  EXPECT_EQ(metered.bytes_received(), 0);
  const Location peer = At(7002);

  peers.handler().ranges = 0;
  EXPECT_TRUE(metered.repair_roots(peer, At(7001), 5).ranges.empty());
  EXPECT_GT(peers.sent, 0);
  EXPECT_EQ(metered.bytes_sent(), peers.sent);
  EXPECT_EQ(metered.bytes_received(), peers.received);

  peers.handler().ranges = 50;
  const int64_t received_before = peers.received;
  EXPECT_EQ(metered.repair_roots(peer, At(7001), 5).ranges.size(), 50u);
  EXPECT_EQ(metered.bytes_sent(), peers.sent);
  EXPECT_EQ(metered.bytes_received(), peers.received);
  EXPECT_GT(peers.received - received_before, 50 * 3 * 10) << "50 roots of 3 replicas each";

  std::vector<int32_t> indexes;
  for (int i = 0; i < 4096; ++i) indexes.push_back(i);
  EXPECT_EQ(metered.repair_tree(peer, 9, 3, indexes, 5).size(), indexes.size());
  EXPECT_EQ(metered.bytes_sent(), peers.sent);
  EXPECT_EQ(metered.bytes_received(), peers.received);

  std::vector<wire::LeafRef> refs(3);
  for (int i = 0; i < 3; ++i) refs[i].leaf = i;
  EXPECT_EQ(metered.repair_leaves(peer, refs, "after", 5).entries.size(), 3u);
  EXPECT_EQ(metered.bytes_sent(), peers.sent);
  EXPECT_EQ(metered.bytes_received(), peers.received);

  EXPECT_EQ(metered.owner_get(peer, {"a", "bb", "ccc"}, true).size(), 3u);
  EXPECT_EQ(metered.bytes_sent(), peers.sent);
  EXPECT_EQ(metered.bytes_received(), peers.received);

  const int64_t sent_before = peers.sent;
  const std::vector<wire::Record> records = {RecordOf("k1", std::string(1000, 'x'), 1),
                                             RecordOf("k2", std::string(1000, 'y'), 2)};
  metered.owner_put(peer, records, wire::Consistency::DEFAULT);
  EXPECT_EQ(metered.bytes_sent(), peers.sent);
  EXPECT_EQ(metered.bytes_received(), peers.received);
  EXPECT_GT(peers.sent - sent_before, 2000) << "the values travel";

  EXPECT_EQ(metered.handoff(peer, records, At(7001)).applied, 2);
  EXPECT_EQ(metered.bytes_sent(), peers.sent);
  EXPECT_EQ(metered.bytes_received(), peers.received);
}

TEST(MeteredPeerClient, AFailedCallCountsNothing) {
  LoopbackPeers peers;
  MeteredPeerClient metered(peers);
  peers.down = true;
  EXPECT_THROW(metered.repair_roots(At(7002), At(7001), 5), apache::thrift::transport::TTransportException);
  EXPECT_THROW(metered.owner_put(At(7002), {RecordOf("k", "v", 1)}, wire::Consistency::DEFAULT),
               apache::thrift::transport::TTransportException);
  EXPECT_EQ(metered.bytes_sent(), 0);
  EXPECT_EQ(metered.bytes_received(), 0);
  peers.down = false;
  metered.repair_roots(At(7002), At(7001), 5);
  EXPECT_EQ(metered.bytes_sent(), peers.sent);
  EXPECT_EQ(metered.bytes_received(), peers.received);
}

}  // namespace
}  // namespace thrifty::diststore
