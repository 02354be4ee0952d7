// echo_client: asks any echo server which node owns a key, then calls echo on that node.
//
//   echo_client --peer 127.0.0.1:9900 "hello"             # the text is the key
//   echo_client --peer 127.0.0.1:9900 --key user:42 "hi"
//
// Prints "owner: HOST:PORT" and "echo: TEXT". Exit status: 0 done, 1 no node answered,
// 2 bad usage.
#include <iostream>

#include "Echo.h"
#include "locator/rpc/address.h"
#include "locator/rpc/connection_pool.h"
#include "tools/common/cli.h"

int main(int argc, char** argv) {
  using namespace thrifty;
  cli::CommandLine command(
      "usage: echo_client [--peer HOST:PORT] [--key KEY] TEXT\n"
      "Asks the node at --peer which node owns KEY (default: TEXT) and calls echo there.\n"
      "Exit status: 0 done, 1 no node answered, 2 bad usage.");
  std::string peer = "127.0.0.1:9900";
  std::string key;
  int timeout_ms = 5000;
  command.option("--peer", peer, "HOST:PORT of any echo server of the cluster").type_name("HOST:PORT");
  command.option("--key", key, "the key whose owner answers (default: the text itself)").type_name("KEY");
  command.option("--timeout-ms", timeout_ms, "deadline of each call");
  const auto args = command.parse(argc, argv);
  if (args.size() != 1) cli::Fail(2, "expected one TEXT (see --help)");
  if (timeout_ms < 1) cli::Fail(2, "--timeout-ms must be >= 1");
  cli::InitClientLogging(argv[0]);  // errors only: Thrift's own messages stay off stderr
  const std::string& text = args[0];
  if (key.empty()) key = text;
  locator::wire::Location entry;
  try {
    entry = rpc::ParseLocation(peer);
  } catch (const std::exception& e) {
    cli::Fail(2, std::string("--peer: ") + e.what());
  }

  // Pooled connections with thrifty's limits and deadlines; the generated EchoClient has the
  // Locator calls too (it extends LocatorClient).
  rpc::PoolOptions options;
  options.call_timeout_ms = timeout_ms;
  rpc::ConnectionPool<echo::EchoClient> pool(options);
  try {
    // 1. Any node knows the whole ring: ask it who owns the key.
    locator::wire::Location owner;
    pool.call(entry, [&](echo::EchoClient& c) { c.get_node(owner, key); });
    // 2. Call the service on the owner itself.
    std::string reply;
    pool.call(owner, [&](echo::EchoClient& c) { c.echo(reply, text); });
    std::cout << "owner: " << rpc::ToString(owner) << "\necho: " << reply << std::endl;
  } catch (const locator::wire::NoNodes& e) {
    cli::Fail(1, e.message);
  } catch (const std::exception& e) {
    cli::Fail(1, e.what());
  }
  return 0;
}
