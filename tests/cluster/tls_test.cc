// TLS on every Thrift connection, against real storeserver nodes on 127.0.0.1. A CA and the
// certificates are made with the openssl command at test time. Nodes call each other over
// mutual TLS (each presents its certificate; one of the cluster's CA makes the caller a peer),
// clients need the CA, plaintext to a TLS port is refused in the handshake and counted, and a
// server certificate must name the address dialled in its subject alternative names.
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <thrift/transport/TSSLSocket.h>

#include "Store.h"
#include "locator/rpc/connect.h"
#include "locator/rpc/tls.h"
#include "tests/cluster/harness.h"
#include "tests/cluster/test_certificates.h"

namespace thrifty::testing {
namespace {

namespace wire = diststore::wire;

std::string Bin(const std::string& name) { return BinDir() + "/" + name; }

class Tls : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { certs_ = new Certificates(); }
  static void TearDownTestSuite() {
    delete certs_;
    certs_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(certs_->ok()) << certs_->error(); }

  // A client of the cluster's CA (`name`: the certificate it presents, "" for none).
  static std::shared_ptr<apache::thrift::transport::TSSLSocketFactory> Client(
      const std::string& name = "", const std::string& ca = "ca") {
    return rpc::MakeClientTlsFactory(certs_->options(name, ca));
  }
  static rpc::ThriftConnection<wire::StoreClient> Connect(
      const locator::wire::Location& node,
      std::shared_ptr<apache::thrift::transport::TSSLSocketFactory> tls) {
    rpc::ConnectOptions options;
    options.connect_timeout_ms = 3000;
    options.call_timeout_ms = 10000;
    options.tls = std::move(tls);
    return rpc::Connect<wire::StoreClient>(node, options);
  }
  static std::map<std::string, int64_t> Stats(Cluster& cluster, int node) {
    std::map<std::string, int64_t> stats;
    cluster.client_pool().call(cluster.location(node), [&](wire::StoreClient& c) { c.stats(stats); });
    return stats;
  }

  static Certificates* certs_;
};

Certificates* Tls::certs_ = nullptr;

TEST_F(Tls, NodesClusterOverMutualTlsAndServeTlsClientsOnly) {
  Cluster cluster;
  cluster.use_tls(Client());
  const int a = cluster.start(certs_->node_args());
  ASSERT_GE(a, 0);
  const int b = cluster.start(certs_->node_args());
  ASSERT_GE(b, 0) << cluster.log(b);
  ASSERT_TRUE(WaitFor([&] {
    std::vector<locator::wire::Location> all;
    try {
      cluster.client_pool().call(cluster.location(a), [&](wire::StoreClient& c) { c.get_all(all); });
    } catch (const std::exception&) {
      return false;
    }
    return all.size() == 2;
  }, 20000));
  // Writes through one node and reads through the other: every key one of them does not own
  // is forwarded to its owner, over mutual TLS.
  for (int i = 0; i < 40; ++i) {
    cluster.client_pool().call(cluster.location(a), [&](wire::StoreClient& c) {
      c.put("tls-key-" + std::to_string(i), "value " + std::to_string(i), wire::Consistency::DEFAULT);
    });
  }
  for (int i = 0; i < 40; ++i) {
    std::string value;
    cluster.client_pool().call(cluster.location(b), [&](wire::StoreClient& c) {
      c.get(value, "tls-key-" + std::to_string(i), wire::Consistency::DEFAULT);
    });
    EXPECT_EQ(value, "value " + std::to_string(i));
  }
  const auto stats_a = Stats(cluster, a), stats_b = Stats(cluster, b);
  EXPECT_GT(stats_a.at("forwarded"), 0);
  // Each node took the other's calls as a certified peer's.
  EXPECT_GT(stats_a.at("peer_auth_certificate") + stats_b.at("peer_auth_certificate"), 0);

  // The command-line tools over TLS.
  const std::string peer = "--peer=127.0.0.1:" + std::to_string(cluster.port(b));
  const std::string ca = "--tls-ca=" + certs_->pem("ca");
  auto put = RunCommand({Bin("storeput"), peer, ca, "cli-key", "cli value"});
  EXPECT_EQ(put.status, 0) << put.err;
  auto get = RunCommand({Bin("storeget"), peer, ca, "cli-key"});
  EXPECT_EQ(get.status, 0) << get.err;
  EXPECT_EQ(get.out, "cli value\n");
  // Plaintext to a TLS port: refused in the handshake, counted; the tool fails.
  const int64_t refused = Stats(cluster, b).at("rpc_tls_handshake_failures");
  auto plain = RunCommand({Bin("storeget"), peer, "cli-key"});
  EXPECT_EQ(plain.status, 2);
  EXPECT_NE(plain.err.find("give --tls-ca"), std::string::npos) << plain.err;
  auto plain_ctl = RunCommand({Bin("storectl"), peer, "stats"});
  EXPECT_EQ(plain_ctl.status, 2);
  EXPECT_NE(plain_ctl.err.find("give --tls-ca"), std::string::npos) << plain_ctl.err;
  EXPECT_GT(Stats(cluster, b).at("rpc_tls_handshake_failures"), refused);
}

TEST_F(Tls, ACertificateOfTheClusterCaMakesAPeerAStrangersIsRefused) {
  Cluster cluster;
  cluster.use_tls(Client());
  const int node = cluster.start(certs_->node_args());
  ASSERT_GE(node, 0);
  const auto where = cluster.location(node);
  std::vector<wire::Record> records;
  // No certificate: a client. Node-to-node calls are refused.
  {
    auto conn = Connect(where, Client());
    conn.client->ping();
    EXPECT_THROW(conn.client->owner_get(records, {"k"}, false), locator::wire::Unauthorized);
  }
  // A certificate of the cluster's CA: a peer, without the key handshake.
  {
    auto conn = Connect(where, Client("peer"));
    EXPECT_NO_THROW(conn.client->owner_get(records, {"k"}, false));
  }
  // A certificate of another CA: no connection at all.
  const int64_t refused = Stats(cluster, node).at("rpc_tls_handshake_failures");
  // (The handshake runs on the first call; under TLS 1.3 the server's refusal of a client
  // certificate arrives with its first answer.)
  EXPECT_THROW(Connect(where, Client("stranger")).client->ping(),
               apache::thrift::transport::TTransportException);
  EXPECT_TRUE(WaitFor([&] { return Stats(cluster, node).at("rpc_tls_handshake_failures") > refused; },
                      5000));
  EXPECT_EQ(Stats(cluster, node).at("peer_auth_certificate"), 1);
}

TEST_F(Tls, TheServerCertificateMustNameTheAddressDialled) {
  for (const char* name : {"elsewhere", "cn-only"}) {
    Cluster cluster;
    cluster.use_tls(Client());
    // The harness cannot reach such a node over TLS: it is started here, on a port of its own.
    std::vector<std::string> args = certs_->node_args(name);
    const int port = FreePortRange(1);
    std::vector<std::string> argv = {Bin("storeserver"), "--port=" + std::to_string(port)};
    argv.insert(argv.end(), args.begin(), args.end());
    for (const auto& arg : cluster.discovery_args()) argv.push_back(arg);  // not anyone else's
    const pid_t pid = StartProcess(argv, cluster.dir() + "/" + name + ".log");
    // It serves (a plaintext connect is accepted by the kernel, then refused in the handshake).
    std::string why;
    EXPECT_TRUE(WaitFor([&] {
      try {
        Connect(rpc::MakeLocation("127.0.0.1", port), Client()).client->ping();
        why = "connected";
        return true;
      } catch (const std::exception& e) {
        why = e.what();
        // Refused for its certificate (not because nothing listens yet).
        return why.find("onnection refused") == std::string::npos;
      }
    }, 20000)) << why;
    EXPECT_NE(why, "connected") << name << ": a certificate that does not name 127.0.0.1 was accepted";
    EXPECT_NE(why.find("certificate verify failed"), std::string::npos) << name << ": " << why;
    StopProcess(pid, SIGTERM);
  }
}

TEST_F(Tls, BadTlsFlagsAreRefusedWithOneLine) {
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  const std::vector<Case> cases = {
      {{"--tls-cert=" + certs_->pem("node"), "--tls-ca=" + certs_->pem("ca")}, "--tls-key"},
      {{"--tls-cert=" + certs_->pem("node"), "--tls-key=" + certs_->key("node")}, "--tls-ca"},
      {{"--tls-ca=" + certs_->pem("ca")}, "--tls-cert"},
      {{"--tls-cert=/nonexistent/node.pem", "--tls-key=" + certs_->key("node"),
        "--tls-ca=" + certs_->pem("ca")},
       "/nonexistent/node.pem"},
      {{"--tls-cert=" + certs_->pem("node"), "--tls-key=" + certs_->key("peer"),
        "--tls-ca=" + certs_->pem("ca")},
       "not the key of"},
  };
  for (const auto& c : cases) {
    std::vector<std::string> argv = {Bin("storeserver"), "--memory", "--port=1"};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    const auto result = RunCommand(argv, "", 20000);
    EXPECT_EQ(result.status, 2) << result.err;
    EXPECT_NE(result.err.find(c.says), std::string::npos) << result.err;
  }
  // A client with a certificate and no key.
  const auto get = RunCommand({Bin("storeget"), "--peer=127.0.0.1:1",
                               "--tls-cert=" + certs_->pem("peer"), "--tls-ca=" + certs_->pem("ca"), "k"});
  EXPECT_EQ(get.status, 2) << get.err;
  EXPECT_NE(get.err.find("--tls-key"), std::string::npos) << get.err;
}

}  // namespace
}  // namespace thrifty::testing
