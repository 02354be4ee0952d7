// InlineCalls: which requests a node's event loops run themselves, decided from the request
// frame (written by the generated client, as a peer or client would send it) and the view.
#include "diststore/service/inline_calls.h"

#include <functional>
#include <memory>
#include <string>

#include <gtest/gtest.h>
#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/transport/TBufferTransports.h>

#include "tests/service/service_fakes.h"

namespace thrifty::diststore::testing {
namespace {

using apache::thrift::protocol::TBinaryProtocol;
using apache::thrift::transport::TMemoryBuffer;

// The request a generated client sends (the frame's payload).
std::string Request(const std::function<void(wire::StoreClient&)>& send) {
  auto buffer = std::make_shared<TMemoryBuffer>();
  wire::StoreClient client(std::make_shared<TBinaryProtocol>(buffer));
  send(client);
  return buffer->getBufferAsString();
}

std::string Get(const std::string& key) {
  return Request([&](wire::StoreClient& c) { c.send_get(key, wire::Consistency::DEFAULT); });
}
std::string Put(const std::string& key) {
  return Request([&](wire::StoreClient& c) { c.send_put(key, "v", wire::Consistency::DEFAULT); });
}
std::string OwnerPut(const std::vector<std::string>& keys, int64_t version) {
  std::vector<wire::Record> records;
  for (const auto& key : keys) {
    wire::Record r;
    r.key = key;
    r.value = "v";
    r.version = version;
    records.push_back(r);
  }
  return Request([&](wire::StoreClient& c) { c.send_owner_put(records, wire::Consistency::DEFAULT); });
}
std::string OwnerGet(const std::string& key) {
  return Request([&](wire::StoreClient& c) { c.send_owner_get({key}, false); });
}

struct Inline {
  explicit Inline(Node& node, bool sync = false)
      : calls(node.cluster, *node.moving, node.replication, rpc::RpcLimits(), sync) {}
  InlineCalls calls;
};

TEST(InlineCalls, ANodeThatIsTheWholeClusterRunsKeyOperationsInlineOnceNoKeysMove) {
  Node node(false, 3);
  Inline policy(node);
  EXPECT_TRUE(policy.calls.runs_inline(Request([](wire::StoreClient& c) { c.send_ping(); })));
  node.change({MemberAt(kSelf)});
  EXPECT_FALSE(policy.calls.runs_inline(Get("k"))) << "keys may be in flight after a ring change";
  node.advance(60000);
  EXPECT_TRUE(policy.calls.runs_inline(Get("k")));
  EXPECT_TRUE(policy.calls.runs_inline(Put("k")));
  EXPECT_TRUE(policy.calls.runs_inline(
      Request([](wire::StoreClient& c) { c.send_multi_get({"a", "b"}, wire::Consistency::ONE); })));
  // Calls that may reach other nodes or wait for a lock do not.
  EXPECT_FALSE(policy.calls.runs_inline(
      Request([](wire::StoreClient& c) { c.send_handoff({}, MemberAt(kB).location); })));

  Inline syncing(node, /*sync=*/true);
  EXPECT_TRUE(syncing.calls.runs_inline(Get("k")));
  EXPECT_FALSE(syncing.calls.runs_inline(Put("k"))) << "an fsync does not run on a loop";
}

TEST(InlineCalls, ClientRequestsOfAClusterRunOnWorkers) {
  Node node(false, 3);
  node.change({MemberAt(kSelf), MemberAt(kB), MemberAt(kC)});
  node.advance(60000);
  Inline policy(node);
  EXPECT_FALSE(policy.calls.runs_inline(Get("k")));
  EXPECT_FALSE(policy.calls.runs_inline(Put("k")));
  // A replica's part of a replicated request stays here.
  EXPECT_TRUE(policy.calls.runs_inline(OwnerGet("k")));
  EXPECT_TRUE(policy.calls.runs_inline(OwnerPut({"a", "b", "c"}, 12345)));
  EXPECT_FALSE(policy.calls.runs_inline(OwnerPut({"a", "b"}, 0))) << "unstamped: led here, fans out";
  EXPECT_FALSE(Inline(node, /*sync=*/true).calls.runs_inline(OwnerPut({"a"}, 12345)));
}

TEST(InlineCalls, ACopyOfAKeyThisNodeDoesNotReplicateRunsOnAWorker) {
  Node node(false, 3);
  node.change({MemberAt(kSelf), MemberAt(kB), MemberAt(kC), MemberAt(7004), MemberAt(7005)});
  node.advance(60000);
  Inline policy(node);
  const auto snapshot = node.cluster.snapshot();
  const ReplicaPlacement placement(*snapshot, 3, false);
  std::string mine, elsewhere;
  for (int i = 0; i < 1000 && (mine.empty() || elsewhere.empty()); ++i) {
    const std::string key = "key-" + std::to_string(i);
    (placement.of(key).contains(snapshot->self_name()) ? mine : elsewhere) = key;
  }
  ASSERT_FALSE(mine.empty());
  ASSERT_FALSE(elsewhere.empty());
  EXPECT_TRUE(policy.calls.runs_inline(OwnerPut({mine}, 12345)));
  EXPECT_FALSE(policy.calls.runs_inline(OwnerPut({mine, elsewhere}, 12345)))
      << "it would be handed on to the key's replicas";
}

TEST(InlineCalls, OneCopyPerKeyAndMalformedRequestsRunOnWorkers) {
  Node node(false, 1);
  node.change({MemberAt(kSelf), MemberAt(kB)});
  node.advance(60000);
  Inline policy(node);
  EXPECT_FALSE(policy.calls.runs_inline(OwnerGet("k"))) << "a miss may ask the previous holder";
  EXPECT_FALSE(policy.calls.runs_inline(OwnerPut({"k"}, 12345)));

  Node replicated(false, 3);
  replicated.change({MemberAt(kSelf), MemberAt(kB), MemberAt(kC)});
  replicated.advance(60000);
  Inline replica(replicated);
  const std::string request = OwnerPut({"a", "b"}, 12345);
  EXPECT_FALSE(replica.calls.runs_inline(request.substr(0, request.size() - 3))) << "cut short";
  EXPECT_FALSE(replica.calls.runs_inline(request + "xyz")) << "bytes after the message";
  EXPECT_FALSE(replica.calls.runs_inline(std::string("\x80\x01\x00\x01garbage", 11)));
  EXPECT_FALSE(replica.calls.runs_inline(""));
}

}  // namespace
}  // namespace thrifty::diststore::testing
