// echo_server: a thrifty node that serves a service of its own, Echo, on top of the Locator.
//
// It joins (or starts) a flat cluster of echo servers exactly like a bare `locator` node does,
// and every Locator call (ping, get_node, members, stats, ...) works on its port as well.
// SIGINT/SIGTERM leave the cluster cleanly.
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <iostream>
#include <memory>

#include <glog/logging.h>

#include "Echo.h"
#include "locator/rpc/address.h"
#include "locator/rpc/per_connection.h"
#include "locator/service/locator_handler.h"
#include "locator/service/locator_node.h"
#include "tools/common/cli.h"

namespace thrifty::echo {

// The Locator calls come from LocatorHandler; Echo adds one method. LocatorHandler inherits
// LocatorIf virtually, which is what makes this diamond work. One handler per connection
// (LocatorHandler keeps the connection's peer authentication), so counters live outside it.
class EchoHandler : public locator::LocatorHandler, virtual public EchoIf {
 public:
  EchoHandler(locator::LocatorNode& node, const rpc::ConnectionPeer& peer,
              std::atomic<int64_t>& echoes)
      : LocatorHandler(node, peer), echoes_(echoes) {}

  void echo(std::string& out, const std::string& text) override {
    ++echoes_;
    out = text;
  }

  // The node's own counters plus this service's: what `storectl --peer HOST:PORT stats` shows.
  void stats(std::map<std::string, int64_t>& out) override {
    LocatorHandler::stats(out);
    out["echoes"] = echoes_.load();
  }

 private:
  std::atomic<int64_t>& echoes_;
};

}  // namespace thrifty::echo

int main(int argc, char** argv) {
  using namespace thrifty;
  // thrifty's command-line conventions: GNU flags, --help, one line on stderr and exit 2 on
  // a bad flag.
  cli::CommandLine command(
      "usage: echo_server [--port N] [--peer HOST:PORT,...] [--discover-from A --discover-to B]\n"
      "Serves the Echo example service on a thrifty locator node. SIGINT/SIGTERM leave the\n"
      "cluster cleanly.");
  int port = 0;
  std::string peer;
  cli::DiscoveryRange discovery;
  command.option("--port", port, "Thrift port; 0 takes the first free port from --discover-from");
  command.option("--peer", peer, "HOST:PORT[,...] of echo servers to join through; without it the server "
                                 "looks for one on 127.0.0.1 in the discovery range, or starts a cluster")
      .type_name("HOST:PORT,...");
  discovery.add_flags(command);
  const auto args = command.parse(argc, argv);
  if (!args.empty()) cli::Fail(2, "unexpected argument '" + args.front() + "' (see --help)");
  if (port < 0 || port > 65535) cli::Fail(2, "--port must be in 0..65535");
  discovery.check();
  cli::InitServerLogging(argv[0]);  // glog on stderr, Thrift's own messages routed into it

  // SIGINT/SIGTERM are taken by sigwait() below: block them before any thread starts, so that
  // every thread inherits the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  locator::NodeOptions options;
  options.port = port;
  options.discover_first = discovery.from;
  options.discover_last = discovery.to;
  try {
    options.peers = rpc::ParseLocations(peer);
  } catch (const std::exception& e) {
    cli::Fail(2, std::string("--peer: ") + e.what());
  }

  try {
    // The service chain, most basic first: discovery joins only nodes whose service_type() is
    // the last one, so echo servers never join storeservers or bare locators.
    locator::LocatorNode node(options, {"locator.Base", "locator.Locator", "echo.Echo"});
    node.bind();
    std::atomic<int64_t> echoes{0};
    const std::string outcome = node.start(
        std::make_shared<rpc::PerConnection<echo::EchoProcessor, echo::EchoIf>>(
            [&](const rpc::ConnectionPeer& peer) {
              return std::make_shared<echo::EchoHandler>(node, peer, echoes);
            }));
    std::cout << "echo_server " << node.self_name() << ": " << outcome << std::endl;

    int sig = 0;
    sigwait(&stop_signals, &sig);
    LOG(INFO) << "signal " << sig << ": leaving the cluster";
    node.leave();
    std::cout << "echo_server " << node.self_name() << ": left the cluster" << std::endl;
  } catch (const std::exception& e) {
    cli::Fail(1, e.what());
  }
  return 0;
}
