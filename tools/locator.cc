// locator: a bare thrifty node (membership and ring, no store).
#include <iostream>

#include <glog/logging.h>

#include "locator/rpc/per_connection.h"
#include "locator/service/locator_handler.h"
#include "locator/service/locator_node.h"
#include "tools/common/cli.h"
#include "tools/common/node_flags.h"

int main(int argc, char** argv) {
  using namespace thrifty;
  cli::CommandLine command(
      "usage: locator [--port N] [--peer HOST:PORT,... | --discovery etcd://HOST:PORT/PREFIX]\n"
      "               [--bind ADDR] [--advertise ADDR]\n"
      "Runs a bare locator node: it joins (or starts) a flat peer-to-peer cluster and answers\n"
      "which node owns a key. SIGINT/SIGTERM leave the cluster cleanly.");
  cli::NodeFlags node_flags(command);
  const auto args = command.parse(argc, argv);
  if (!args.empty()) cli::Fail(2, "unexpected argument '" + args.front() + "' (see --help)");
  cli::InitServerLogging(argv[0]);
  cli::InstallStopSignals();

  try {
    locator::LocatorNode node(node_flags.options(), {"locator.Base", "locator.Locator"});
    node.bind();
    using Service = rpc::PerConnection<locator::wire::LocatorProcessor, locator::wire::LocatorIf>;
    const std::string outcome = node.start(std::make_shared<Service>([&](const rpc::ConnectionPeer& peer) {
      return std::make_shared<locator::LocatorHandler>(node, peer);
    }));
    std::cout << "locator " << node.self_name() << ": " << outcome << std::endl;
    const int sig = cli::WaitForStopSignal();
    LOG(INFO) << "signal " << sig << ": leaving the cluster";
    node.leave();
    std::cout << "locator " << node.self_name() << ": left the cluster" << std::endl;
  } catch (const std::exception& e) {
    cli::Fail(1, e.what());
  }
  return 0;
}
