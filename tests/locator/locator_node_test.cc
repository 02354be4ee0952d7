// LocatorNodes in one process, each serving the Locator service on its own free port of
// 127.0.0.1 (LocatorNode + LocatorHandler + LocatorProcessor, as the locator tool does): joins,
// refused joins, leaves, anti-entropy, the failure threshold and ring listeners.
#include "locator/service/locator_node.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "locator/membership/join_proof.h"
#include "locator/membership/key_ring.h"
#include "locator/membership/member_table.h"
#include "locator/membership/peer_handshake.h"
#include "locator/rpc/address.h"
#include "locator/rpc/per_connection.h"
#include "locator/service/locator_handler.h"
#include "locator/service/zone.h"

namespace thrifty::locator {
namespace {

using membership::MemberName;
using wire::Location;
using wire::MemberState;

// A free port on 127.0.0.1, chosen by the kernel.
int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

bool WaitUntil(const std::function<bool()>& pred, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

// A proof of the (development) cluster key for a membership call, as a peer would make it.
std::string Proof(const char* purpose, const std::string& caller = "") {
  return membership::JoinProof::Make(membership::KeyRing::DevelopmentKey(), purpose, caller,
                                     membership::NowMs());
}
std::string SyncProof(const std::vector<wire::Member>& members) {
  return Proof(membership::JoinProof::kSync, membership::JoinProof::SyncDigest(members));
}
std::string Proof(const char* purpose, const Location& caller) {
  return Proof(purpose, MemberName(caller));
}

// Pool options of a test acting as a peer: every connection proves the development key.
rpc::PoolOptions AsPeer() {
  static PeerAuth auth(
      std::make_shared<const membership::KeyRing>(membership::KeyRing::DevelopmentKey()));
  return auth.pool_options({});
}

// These tests drive membership through the Locator RPCs and note_peer_failure alone: without
// gossip, a peer is declared DEAD after `failure_threshold` failed calls in a row.
NodeOptions Options(std::vector<Location> peers = {}) {
  NodeOptions options;
  options.gossip = false;
  options.port = FreePort();
  options.peers = std::move(peers);
  // Discovery looks only at the node's own port: a node without peers starts a new cluster
  // and never wanders into someone else's.
  options.discover_first = options.discover_last = options.port;
  options.sync_interval_ms = 60000;  // no background anti-entropy unless a test asks for it
  options.server.workers = 16;
  options.pool.connect_timeout_ms = 500;
  options.pool.call_timeout_ms = 2000;
  return options;
}

class Node {
 public:
  explicit Node(NodeOptions options)
      : node_(std::make_unique<LocatorNode>(std::move(options),
                                            std::vector<std::string>{"locator.Base", "locator.Locator"})) {
    node_->bind();
  }
  std::string start() {
    LocatorNode& node = *node_;
    using Service = rpc::PerConnection<wire::LocatorProcessor, wire::LocatorIf>;
    return node_->start(std::make_shared<Service>(
        [&node](const rpc::ConnectionPeer& peer) { return std::make_shared<LocatorHandler>(node, peer); }));
  }
  LocatorNode* operator->() { return node_.get(); }
  LocatorNode& operator*() { return *node_; }
  Location at() const { return node_->self_location(); }
  std::string name() const { return node_->self_name(); }

 private:
  std::unique_ptr<LocatorNode> node_;
};

wire::JoinInfo Info(const std::string& placement = "ketama",
                   const std::string& service_type = "locator.Locator") {
  wire::JoinInfo info;
  info.incarnation = 1;
  info.placement = placement;
  info.service_type = service_type;
  return info;
}

std::optional<wire::Member> Find(LocatorNode& node, const Location& who) {
  return node.members().find(MemberName(who));
}

// The LocatorError message a join of `who` through `node` raises ("" if admitted).
std::string JoinError(rpc::ConnectionPool<wire::LocatorClient>& pool, const Location& node,
                      const Location& who, const wire::JoinInfo& info) {
  try {
    wire::View view;
    wire::JoinInfo signed_info = info;
    signed_info.proof = Proof(membership::JoinProof::kJoin, who);
    pool.call(node, [&](wire::LocatorClient& c) { c.join(view, who, signed_info); });
  } catch (const wire::LocatorError& e) {
    return e.message;
  }
  return "";
}

TEST(LocatorNode, TwoNodesJoinAndAgree) {
  Node a(Options());
  EXPECT_NE(a.start().find("started a new cluster"), std::string::npos);
  NodeOptions b_options = Options({a.at()});
  b_options.weight = 2;
  Node b(b_options);
  const std::string outcome = b.start();
  EXPECT_NE(outcome.find("joined the cluster through " + rpc::ToString(a.at())), std::string::npos)
      << outcome;
  EXPECT_NE(outcome.find("2 nodes"), std::string::npos) << outcome;

  // Both know both, with B's weight; the join is done when start() returns.
  for (LocatorNode* n : {&*a, &*b}) {
    EXPECT_EQ(n->ring()->size(), 2u);
    EXPECT_EQ(n->ring()->signature().at(b.name()), 2.0);
    EXPECT_EQ(n->ring()->signature().at(a.name()), 1.0);
    EXPECT_EQ(n->stats().at("members_alive"), 2);
  }
  EXPECT_EQ(a->stats().at("joins_handled"), 1);

  // Over RPC: the same ring, the same owners, from either node.
  rpc::ConnectionPool<wire::LocatorClient> pool(AsPeer());
  for (const Location& at : {a.at(), b.at()}) {
    std::vector<Location> all;
    pool.call(at, [&](wire::LocatorClient& c) { c.get_all(all); });
    std::set<std::string> names;
    for (const auto& l : all) names.insert(MemberName(l));
    EXPECT_EQ(names, (std::set<std::string>{a.name(), b.name()}));
    wire::View view;
    pool.call(at, [&](wire::LocatorClient& c) { c.get_view(view); });
    EXPECT_EQ(view.placement, "ketama");
    EXPECT_EQ(view.service_type, "locator.Locator");
    EXPECT_EQ(view.members.size(), 2u);
    std::string type;
    pool.call(at, [&](wire::LocatorClient& c) { c.service_type(type); });
    EXPECT_EQ(type, "locator.Locator");
  }
  for (int i = 0; i < 200; ++i) {
    const std::string key = "key-" + std::to_string(i);
    Location from_a, from_b;
    pool.call(a.at(), [&](wire::LocatorClient& c) { c.get_node(from_a, key); });
    pool.call(b.at(), [&](wire::LocatorClient& c) { c.get_node(from_b, key); });
    EXPECT_EQ(MemberName(from_a), MemberName(from_b)) << key;
    EXPECT_EQ(MemberName(from_a), MemberName(a->ring()->owner(key))) << key;
    std::vector<Location> list;
    pool.call(a.at(), [&](wire::LocatorClient& c) { c.get_nodes(list, key, 5); });
    ASSERT_EQ(list.size(), 2u);
    EXPECT_EQ(MemberName(list[0]), MemberName(from_a));
  }
  std::vector<Location> list;
  EXPECT_THROW(pool.call(a.at(), [&](wire::LocatorClient& c) { c.get_nodes(list, "k", 0); }),
               wire::LocatorError);
}

TEST(LocatorNode, JoinWithAnotherPlacementIsRefusedNamingBoth) {
  Node a(Options());
  a.start();
  rpc::ConnectionPool<wire::LocatorClient> pool(AsPeer());
  const Location stranger = rpc::MakeLocation("127.0.0.1", FreePort());
  const std::string error = JoinError(pool, a.at(), stranger, Info("rendezvous/siphash"));
  EXPECT_NE(error.find("'ketama'"), std::string::npos) << error;
  EXPECT_NE(error.find("'rendezvous/siphash'"), std::string::npos) << error;
  EXPECT_FALSE(Find(*a, stranger).has_value());

  // A real node with another placement cannot join through --peer.
  NodeOptions c_options = Options({a.at()});
  c_options.placement = "rendezvous/siphash";
  Node c(c_options);
  EXPECT_THROW(c.start(), std::runtime_error);
  EXPECT_EQ(a->ring()->size(), 1u);
  EXPECT_FALSE(Find(*a, c.at()).has_value());

  // Another service type is refused the same way.
  const std::string other = JoinError(pool, a.at(), stranger, Info("ketama", "diststore.Store"));
  EXPECT_NE(other.find("'locator.Locator'"), std::string::npos) << other;
  EXPECT_NE(other.find("'diststore.Store'"), std::string::npos) << other;
}

TEST(LocatorNode, MembershipCallsWithoutAProofOfTheClusterKeyAreRefused) {
  Node a(Options());
  a.start();
  rpc::ConnectionPool<wire::LocatorClient> pool(AsPeer());
  const Location stranger = rpc::MakeLocation("127.0.0.1", FreePort());
  wire::View view;
  EXPECT_THROW(pool.call(a.at(), [&](wire::LocatorClient& c) { c.join(view, stranger, Info()); }),
               wire::Unauthorized);
  // A proof made for another member does not admit this one.
  wire::JoinInfo info = Info();
  info.proof = Proof(membership::JoinProof::kJoin, "127.0.0.1:1");
  EXPECT_THROW(pool.call(a.at(), [&](wire::LocatorClient& c) { c.join(view, stranger, info); }),
               wire::Unauthorized);
  wire::Member m;
  m.location = stranger;
  m.incarnation = 1;
  EXPECT_THROW(pool.call(a.at(), [&](wire::LocatorClient& c) { c.sync(view, {m}, ""); }),
               wire::Unauthorized);
  EXPECT_THROW(pool.call(a.at(), [&](wire::LocatorClient& c) { c.remove(a.at(), {}, ""); }),
               wire::Unauthorized);
  EXPECT_EQ(a->members().all().size(), 1u);
  EXPECT_EQ(a->members().self().state, MemberState::ALIVE);
}

// A connection that did not prove the cluster key gets Unauthorized for every membership
// call, even with a valid per-call proof (a captured sync proof used to inject any member list
// for 5 minutes), and still answers the Locator queries.
TEST(LocatorNode, MembershipCallsNeedAnAuthenticatedConnection) {
  Node a(Options());
  a.start();
  rpc::ConnectionPool<wire::LocatorClient> plain;
  const Location stranger = rpc::MakeLocation("127.0.0.1", FreePort());
  wire::Member m;
  m.location = stranger;
  m.incarnation = 1;
  wire::View view;
  auto refused = [&](const std::function<void(wire::LocatorClient&)>& call) {
    try {
      plain.call(a.at(), call);
    } catch (const wire::Unauthorized& e) {
      return e.message;
    }
    return std::string("served");
  };
  const std::string sync = refused([&](wire::LocatorClient& c) {
    c.sync(view, {m}, SyncProof({m}));
  });
  EXPECT_NE(sync.find("sync is a node-to-node call"), std::string::npos) << sync;
  wire::JoinInfo info = Info();
  info.proof = Proof(membership::JoinProof::kJoin, stranger);
  EXPECT_NE(refused([&](wire::LocatorClient& c) { c.join(view, stranger, info); }), "served");
  info.proof = Proof(membership::JoinProof::kAdd, stranger);
  EXPECT_NE(refused([&](wire::LocatorClient& c) { c.add(stranger, {}, info); }), "served");
  EXPECT_NE(refused([&](wire::LocatorClient& c) {
              c.remove(a.at(), {}, Proof(membership::JoinProof::kRemove, a.at()));
            }),
            "served");
  EXPECT_EQ(a->members().all().size(), 1u);
  EXPECT_EQ(a->members().self().state, MemberState::ALIVE);
  EXPECT_EQ(a->stats().at("peer_calls_refused"), 4);
  // Queries need no proof.
  plain.call(a.at(), [&](wire::LocatorClient& c) { c.get_view(view); });
  EXPECT_EQ(view.members.size(), 1u);

  // The same calls on a connection that proved the key are served.
  rpc::ConnectionPool<wire::LocatorClient> peer(AsPeer());
  // A sync proof covers its member list: captured, it cannot carry another one.
  wire::Member other = m;
  other.location = rpc::MakeLocation("127.0.0.1", FreePort());
  EXPECT_THROW(peer.call(a.at(), [&](wire::LocatorClient& c) { c.sync(view, {other}, SyncProof({m})); }),
               wire::Unauthorized);
  EXPECT_FALSE(Find(*a, other.location).has_value());
  peer.call(a.at(), [&](wire::LocatorClient& c) {
    c.sync(view, {m}, SyncProof({m}));
  });
  EXPECT_TRUE(Find(*a, stranger).has_value());
}

// The handshake: a caller with another key is refused, a proof is good for its own
// connection only, and a caller never trusts a node that cannot prove the key.
TEST(LocatorNode, PeerHandshakeProofsAreBoundToTheirConnectionAndKey) {
  Node a(Options());
  a.start();
  const auto other_key = std::make_shared<const membership::KeyRing>(
      std::vector<std::string>{std::string(32, 'x')});
  PeerAuth stranger_auth(other_key);
  rpc::ConnectionPool<wire::LocatorClient> stranger(stranger_auth.pool_options({}));
  wire::View view;
  // The node's proof does not verify under the stranger's key: the caller refuses the node.
  EXPECT_THROW(stranger.call(a.at(), [&](wire::LocatorClient& c) { c.get_view(view); }),
               wire::Unauthorized);

  // Run the handshake by hand on two connections: the caller's proof from connection 1 is
  // worthless on connection 2, and so is the node's own proof sent back.
  const auto dev = membership::KeyRing::DevelopmentKey();
  rpc::ConnectionPool<wire::LocatorClient> plain;
  std::string first_proof;
  plain.call(a.at(), [&](wire::LocatorClient& c) {
    const std::string nonce = membership::PeerHandshake::NewNonce();
    wire::PeerChallenge challenge;
    c.auth_begin(challenge, nonce);
    EXPECT_TRUE(membership::PeerHandshake::VerifyNode(dev, nonce, challenge.nonce, challenge.proof));
    first_proof = membership::PeerHandshake::CallerProof(dev, nonce, challenge.nonce);
    c.auth_finish(first_proof);
  });
  rpc::ConnectionPool<wire::LocatorClient> second;
  wire::Member m;
  m.location = rpc::MakeLocation("127.0.0.1", FreePort());
  m.incarnation = 1;
  second.call(a.at(), [&](wire::LocatorClient& c) {
    wire::PeerChallenge challenge;
    c.auth_begin(challenge, membership::PeerHandshake::NewNonce());
    EXPECT_THROW(c.auth_finish(first_proof), wire::Unauthorized);
    c.auth_begin(challenge, membership::PeerHandshake::NewNonce());
    EXPECT_THROW(c.auth_finish(challenge.proof), wire::Unauthorized);  // the node's own proof
    EXPECT_THROW(c.auth_finish(first_proof), wire::Unauthorized);      // no second try
    EXPECT_THROW(c.sync(view, {m}, SyncProof({m})),
                 wire::Unauthorized);
    EXPECT_THROW(c.auth_begin(challenge, "short"), wire::Unauthorized);
  });
  EXPECT_FALSE(Find(*a, m.location).has_value());
  EXPECT_GE(a->stats().at("peer_auth_failed"), 4);
}

TEST(LocatorNode, JoinWithABadLocationIsRefused) {
  Node a(Options());
  a.start();
  rpc::ConnectionPool<wire::LocatorClient> pool(AsPeer());
  struct Case {
    Location location;
    const char* says;
  };
  const std::vector<Case> cases = {
      {rpc::MakeLocation("", 9000), "empty address"},
      {rpc::MakeLocation("127.0.0.1", 0), "outside 1..65535"},
      {rpc::MakeLocation("127.0.0.1", -1), "outside 1..65535"},
      {rpc::MakeLocation("127.0.0.1", 65536), "outside 1..65535"},
      {rpc::MakeLocation(std::string(300, 'h'), 80), "255"},
      {a.at(), "own address"},
  };
  for (const auto& c : cases) {
    const std::string error = JoinError(pool, a.at(), c.location, Info());
    EXPECT_NE(error.find("join refused"), std::string::npos) << rpc::ToString(c.location) << ": " << error;
    EXPECT_NE(error.find(c.says), std::string::npos) << rpc::ToString(c.location) << ": " << error;
  }
  EXPECT_EQ(a->members().all().size(), 1u);
  EXPECT_EQ(a->stats().at("joins_handled"), 0);
}

// A member's weight is another node's word. One the placement cannot take (ketama takes at most
// 4294967295) must be refused, not admitted into a table the ring can no longer be built from.
TEST(LocatorNode, JoinWithAWeightThePlacementCannotTakeIsRefusedAndTheNodeKeepsWorking) {
  Node a(Options());
  a.start();
  rpc::ConnectionPool<wire::LocatorClient> pool(AsPeer());
  wire::JoinInfo info = Info();
  info.metadata[kWeightKey] = "5e9";
  const Location heavy = rpc::MakeLocation("127.0.0.1", FreePort());
  info.proof = Proof(membership::JoinProof::kJoin, heavy);
  try {
    wire::View view;
    pool.call(a.at(), [&](wire::LocatorClient& c) { c.join(view, heavy, info); });
    // Admitted: then it must be in the ring.
    EXPECT_EQ(a->ring()->size(), 2u) << "admitted, but the ring was not rebuilt";
  } catch (const wire::LocatorError& e) {
    EXPECT_NE(e.message.find("5e9"), std::string::npos) << e.message;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "join with weight 5e9 failed with " << e.what();
  }
  // Either way, a well-behaved node still joins and both see a ring of the live nodes.
  Node b(Options({a.at()}));
  try {
    b.start();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "a normal join failed after the weight-5e9 join: " << e.what();
  }
  EXPECT_TRUE(a->ring()->contains(b.name())) << a->debug();
}

// Two nodes join through the same seed at the same moment. Each is admitted, and the seed tells
// each about the other; neither join may wait on the other (a joiner serves only once its own
// join returns).
TEST(LocatorNode, ConcurrentJoinsThroughOneSeedDoNotWaitOnEachOther) {
  Node a(Options());
  a.start();
  for (int round = 0; round < 5; ++round) {
    Node b(Options({a.at()}));
    Node c(Options({a.at()}));
    std::atomic<int64_t> b_ms{0}, c_ms{0};
    const auto started = std::chrono::steady_clock::now();
    auto timed_start = [&](Node& n, std::atomic<int64_t>& ms) {
      try {
        n.start();
      } catch (const std::exception& e) {
        ADD_FAILURE() << "join failed: " << e.what();
      }
      ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 started).count();
    };
    std::thread tb([&] { timed_start(b, b_ms); });
    std::thread tc([&] { timed_start(c, c_ms); });
    tb.join();
    tc.join();
    // The pool's call deadline is 2 s: a join that waited on the other joiner takes that long.
    EXPECT_LT(b_ms.load(), 1000) << "round " << round;
    EXPECT_LT(c_ms.load(), 1000) << "round " << round;
    EXPECT_TRUE(WaitUntil([&] { return b->ring()->contains(c.name()) && c->ring()->contains(b.name()); },
                          3000))
        << "round " << round << ": the two joiners do not know each other\n"
        << b->debug() << c->debug();
    b->leave();
    c->leave();
    if (HasFailure()) break;
  }
}

TEST(LocatorNode, LeaveMarksTheNodeLeftEverywhere) {
  Node a(Options());
  a.start();
  Node b(Options({a.at()}));
  b.start();
  Node c(Options({a.at()}));
  c.start();
  EXPECT_EQ(b->ring()->size(), 3u);  // learned from A's broadcast
  b->leave();
  for (LocatorNode* n : {&*a, &*c}) {
    auto member = Find(*n, b.at());
    ASSERT_TRUE(member.has_value());
    EXPECT_EQ(member->state, MemberState::LEFT);
    EXPECT_EQ(n->ring()->size(), 2u);
    EXPECT_FALSE(n->ring()->contains(b.name()));
    EXPECT_EQ(n->stats().at("members_left"), 1);
  }
  // B no longer serves.
  rpc::ConnectionPool<wire::LocatorClient> pool(AsPeer());
  EXPECT_THROW(pool.call(b.at(), [](wire::LocatorClient& c) { c.ping(); }), std::exception);

  // remove() of a stranger changes nothing; of a bad location is refused; of the node itself is
  // refuted (it is still alive).
  const Location stranger = rpc::MakeLocation("127.0.0.1", FreePort());
  pool.call(a.at(), [&](wire::LocatorClient& cl) { cl.remove(stranger, {stranger}, Proof(membership::JoinProof::kRemove, stranger)); });
  EXPECT_FALSE(Find(*a, stranger).has_value());
  EXPECT_THROW(pool.call(a.at(), [&](wire::LocatorClient& cl) {
                 cl.remove(rpc::MakeLocation("", 1), {},
                           Proof(membership::JoinProof::kRemove, rpc::MakeLocation("", 1)));
               }),
               wire::LocatorError);
  const int64_t incarnation = a->members().self().incarnation;
  pool.call(a.at(), [&](wire::LocatorClient& cl) { cl.remove(a.at(), {a.at()}, Proof(membership::JoinProof::kRemove, a.at())); });
  EXPECT_EQ(a->members().self().state, MemberState::ALIVE);
  EXPECT_GT(a->members().self().incarnation, incarnation);
  EXPECT_EQ(a->ring()->size(), 2u);
}

TEST(LocatorNode, SyncMergesAndAnswersWithItsView) {
  Node a(Options());
  a.start();
  rpc::ConnectionPool<wire::LocatorClient> pool(AsPeer());
  wire::Member c;
  c.location = rpc::MakeLocation("127.0.0.1", FreePort());
  c.state = MemberState::ALIVE;
  c.incarnation = 5;
  c.metadata[kWeightKey] = "3";

  wire::View view;
  pool.call(a.at(), [&](wire::LocatorClient& cl) { cl.sync(view, {c}, SyncProof({c})); });
  std::set<std::string> names;
  for (const auto& m : view.members) names.insert(MemberName(m.location));
  EXPECT_EQ(names, (std::set<std::string>{a.name(), MemberName(c.location)}));
  EXPECT_EQ(a->ring()->size(), 2u);
  EXPECT_EQ(a->ring()->signature().at(MemberName(c.location)), 3.0);

  // Older news is ignored; a later state at the same incarnation wins.
  wire::Member stale = c;
  stale.incarnation = 4;
  stale.state = MemberState::DEAD;
  pool.call(a.at(), [&](wire::LocatorClient& cl) { cl.sync(view, {stale}, SyncProof({stale})); });
  EXPECT_EQ(Find(*a, c.location)->state, MemberState::ALIVE);
  wire::Member dead = c;
  dead.state = MemberState::DEAD;
  pool.call(a.at(), [&](wire::LocatorClient& cl) { cl.sync(view, {dead}, SyncProof({dead})); });
  EXPECT_EQ(Find(*a, c.location)->state, MemberState::DEAD);
  EXPECT_EQ(a->ring()->size(), 1u);

  // One bad location refuses the whole sync: nothing of it is applied.
  wire::Member d = c;
  d.location = rpc::MakeLocation("127.0.0.1", FreePort());
  wire::Member bad = c;
  bad.location = rpc::MakeLocation("127.0.0.1", 0);
  EXPECT_THROW(pool.call(a.at(), [&](wire::LocatorClient& cl) { cl.sync(view, {d, bad}, SyncProof({d, bad})); }),
               wire::LocatorError);
  EXPECT_FALSE(Find(*a, d.location).has_value());
}

TEST(LocatorNode, BackgroundSyncSpreadsMembersBothWays) {
  NodeOptions a_options = Options();
  a_options.sync_interval_ms = 20;
  Node a(a_options);
  a.start();
  NodeOptions b_options = Options({a.at()});
  b_options.sync_interval_ms = 20;
  Node b(b_options);
  b.start();
  // C runs a cluster of its own. A alone hears of it; anti-entropy alone brings B and C
  // together (A syncs with C, B with A).
  NodeOptions c_options = Options();
  c_options.sync_interval_ms = 20;
  Node c(c_options);
  c.start();
  a->handle_sync({c->members().self()}, SyncProof({c->members().self()}));
  EXPECT_TRUE(WaitUntil([&] { return b->ring()->contains(c.name()); }, 5000)) << b->debug();
  EXPECT_TRUE(WaitUntil([&] { return c->ring()->contains(b.name()); }, 5000)) << c->debug();
  EXPECT_TRUE(WaitUntil([&] { return c->ring()->size() == 3 && b->ring()->size() == 3; }, 5000));
  EXPECT_GT(a->stats().at("syncs_sent"), 0);
  EXPECT_EQ(a->stats().at("syncs_failed"), 0);
}

TEST(LocatorNode, ThreeFailedCallsInARowMakeAPeerDead) {
  Node a(Options());
  a.start();
  Node b(Options({a.at()}));
  b.start();
  a->note_peer_failure(b.at());
  a->note_peer_failure(b.at());
  EXPECT_EQ(Find(*a, b.at())->state, MemberState::ALIVE);
  a->note_peer_success(b.at());  // the count is of failures in a row
  a->note_peer_failure(b.at());
  a->note_peer_failure(b.at());
  EXPECT_EQ(Find(*a, b.at())->state, MemberState::ALIVE);
  a->note_peer_failure(b.at());
  EXPECT_EQ(Find(*a, b.at())->state, MemberState::DEAD);
  EXPECT_FALSE(a->ring()->contains(b.name()));
  EXPECT_EQ(a->stats().at("peer_failures"), 5);
  EXPECT_EQ(a->stats().at("members_dead"), 1);
}

TEST(LocatorNode, APeerThatStopsAnsweringIsDeclaredDeadBySync) {
  NodeOptions a_options = Options();
  a_options.sync_interval_ms = 20;
  Node a(a_options);
  a.start();
  Node b(Options({a.at()}));
  b.start();
  b->stop();  // gone without a word
  EXPECT_TRUE(WaitUntil([&] { return Find(*a, b.at())->state == MemberState::DEAD; }, 5000))
      << a->debug();
  EXPECT_GE(a->stats().at("syncs_failed"), 3);
  // The snapshot follows the table (published right after the change that made it).
  EXPECT_TRUE(WaitUntil([&] { return a->ring()->size() == 1u; }, 5000)) << a->debug();
}

TEST(LocatorNode, RingListenersFireOncePerRingChange) {
  Node a(Options());
  struct Call {
    size_t before, after;
  };
  std::mutex mu;
  std::vector<Call> calls;
  a->add_ring_listener([&](const std::shared_ptr<const ClusterSnapshot>& before,
                           const std::shared_ptr<const ClusterSnapshot>& after) {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_LT(before->generation(), after->generation());
    calls.push_back({before->ring()->size(), after->ring()->size()});
  });
  auto count = [&] {
    std::lock_guard<std::mutex> lock(mu);
    return calls.size();
  };
  a.start();
  EXPECT_EQ(count(), 0u);

  Node b(Options({a.at()}));
  b.start();
  ASSERT_EQ(count(), 1u);
  EXPECT_EQ(calls[0].before, 1u);
  EXPECT_EQ(calls[0].after, 2u);
  EXPECT_EQ(a->previous_ring()->size(), 1u);

  // News that changes a member but not the ring: no call.
  wire::Member b_again = *Find(*a, b.at());
  b_again.incarnation += 1;
  b_again.metadata["rack-note"] = "r1";
  a->handle_sync({b_again}, SyncProof({b_again}));
  a->handle_sync({b_again}, SyncProof({b_again}));
  EXPECT_EQ(count(), 1u);

  // A weight change is a ring change; so is a zone change (zones move replicas), once; and so
  // are a join and a leave.
  b_again.incarnation += 1;
  b_again.metadata[kWeightKey] = "2";
  a->handle_sync({b_again}, SyncProof({b_again}));
  EXPECT_EQ(count(), 2u);
  b_again.incarnation += 1;
  b_again.metadata[kZoneKey] = "z1";
  a->handle_sync({b_again}, SyncProof({b_again}));
  a->handle_sync({b_again}, SyncProof({b_again}));
  EXPECT_EQ(count(), 3u);
  Node c(Options({a.at()}));
  c.start();
  EXPECT_EQ(count(), 4u);
  c->leave();
  ASSERT_EQ(count(), 5u);
  EXPECT_EQ(calls[4].before, 3u);
  EXPECT_EQ(calls[4].after, 2u);
}

// Membership news arriving on many threads at once (Thrift workers, the detector) used to
// rebuild the ring without a generation check, so an older ring could land last: a DEAD node
// kept in the ring. Snapshots are published in generation order and the last one is always
// the table's current state.
TEST(LocatorNode, ConcurrentMembershipNewsNeverLeavesAnOlderSnapshotPublished) {
  Node a(Options());
  a.start();
  std::vector<Location> others;
  for (int i = 0; i < 6; ++i) others.push_back(rpc::MakeLocation("127.0.0.1", 40000 + i));
  std::atomic<uint64_t> last_seen{0};
  std::atomic<bool> out_of_order{false};
  a->add_ring_listener([&](const std::shared_ptr<const ClusterSnapshot>&,
                           const std::shared_ptr<const ClusterSnapshot>& after) {
    if (after->generation() <= last_seen.exchange(after->generation())) out_of_order = true;
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 50; ++round) {
        wire::Member m;
        m.location = others[(t + round) % others.size()];
        m.incarnation = round + 1;
        m.state = round % 3 == 2 ? MemberState::DEAD : MemberState::ALIVE;
        a->members().apply(m);  // as the detector would: the publisher thread publishes
        if (round % 2 == 0) a->handle_sync({m}, SyncProof({m}));  // as a Thrift worker
      }
    });
  }
  for (auto& thread : threads) thread.join();
  // Whatever the interleaving, the published snapshot catches up with the table.
  ASSERT_TRUE(WaitUntil([&] { return a->snapshot()->generation() == a->members().generation(); },
                        5000));
  std::set<std::string> in_ring, published;
  for (const auto& m : a->members().in_ring()) in_ring.insert(MemberName(m.location));
  for (const auto& l : a->ring()->nodes()) published.insert(MemberName(l));
  EXPECT_EQ(published, in_ring);
  std::set<std::string> dead;
  for (const auto& m : a->members().all()) {
    if (m.state == MemberState::DEAD) dead.insert(MemberName(m.location));
  }
  EXPECT_EQ(a->snapshot()->dead(), dead);
  EXPECT_FALSE(out_of_order.load());
}

}  // namespace
}  // namespace thrifty::locator
