// storeserver: a diststore node. It joins (or starts) a cluster, stores the keys it owns in
// RocksDB (or memory), answers get/put from any node, and hands its keys off on a clean leave.
#include <iostream>

#include <gflags/gflags.h>
#include <glog/logging.h>

#include "diststore/service/handoff_stream.h"
#include "diststore/service/request_coordinator.h"
#include "diststore/service/store_handler.h"
#include "diststore/storage/engine.h"
#include "locator/service/locator_node.h"
#include "tools/common/cli.h"
#include "tools/common/data_dir.h"
#include "tools/common/node_flags.h"

DEFINE_string(data_dir, "", "RocksDB data directory (default: ./data/<port>)");
DEFINE_bool(memory, false, "keep data in memory only (lost on exit)");
DEFINE_int64(max_key_bytes, 64 * 1024, "largest key accepted, in bytes");
DEFINE_int64(max_value_bytes, 16 * 1024 * 1024, "largest value accepted, in bytes");
DEFINE_bool(sync, false, "fsync the write-ahead log on every write (slower, survives power loss)");
DEFINE_int32(drain_timeout_s, 300, "how long a clean leave may take to hand off its keys");

int main(int argc, char** argv) {
  using namespace thrifty;
  const auto args = cli::ParseFlags(
      argc, argv,
      "usage: storeserver [--port N] [--peer HOST:PORT,...] [--data-dir DIR | --memory]\n"
      "                   [--max-key-bytes N] [--max-value-bytes N] [node options]\n"
      "Runs a diststore node: a key-value store on a flat peer-to-peer ring. Without --peer it\n"
      "joins a node found on 127.0.0.1 (ports 9900-9939) or starts a new cluster.\n"
      "SIGINT/SIGTERM hand every key to its new owner, then leave the cluster and exit 0.",
      {"tools/common/node_flags.cc", "tools/storeserver.cc"});
  if (!args.empty()) cli::Fail(2, "unexpected argument '" + args.front() + "' (see --help)");
  if (FLAGS_max_key_bytes < 1 || FLAGS_max_key_bytes > (1 << 20)) {
    cli::Fail(2, "--max-key-bytes must be in 1..1048576");
  }
  if (FLAGS_max_value_bytes < 0 || FLAGS_max_value_bytes > (256 << 20)) {
    cli::Fail(2, "--max-value-bytes must be in 0..268435456");
  }
  if (FLAGS_memory && !FLAGS_data_dir.empty()) cli::Fail(2, "--memory and --data-dir exclude each other");
  cli::InitServerLogging(argv[0]);
  cli::InstallStopSignals();

  locator::NodeOptions options = cli::NodeOptionsFromFlags();
  const rpc::RpcLimits limits = rpc::RpcLimits::ForValueSize(FLAGS_max_value_bytes);
  options.server.limits = limits;
  options.pool.limits = limits;
  diststore::StoreLimits store_limits;
  store_limits.max_key_bytes = FLAGS_max_key_bytes;
  store_limits.max_value_bytes = FLAGS_max_value_bytes;

  try {
    locator::LocatorNode node(options, {"locator.Base", "locator.Locator", "diststore.Store"});
    node.bind();

    std::unique_ptr<storage::Engine> engine;
    if (FLAGS_memory) {
      engine = storage::NewMemoryEngine();
    } else {
      storage::EngineOptions engine_options;
      engine_options.path = FLAGS_data_dir.empty()
                                ? "data/" + std::to_string(node.self_location().port)
                                : FLAGS_data_dir;
      cli::MakeDataDir(engine_options.path);
      engine_options.sync = FLAGS_sync;
      engine = storage::OpenRocksDbEngine(engine_options);
      LOG(INFO) << "data in " << engine_options.path;
    }

    rpc::PoolOptions pool = options.pool;
    pool.max_idle_per_peer = 64;
    pool.call_timeout_ms = 30000;
    diststore::RequestCoordinator coordinator(node, *engine, store_limits, pool);
    diststore::HandoffStream handoff(coordinator);
    // Whatever happens below, stop serving before the coordinator and engine go away.
    struct StopServing {
      locator::LocatorNode& node;
      ~StopServing() { node.stop(); }
    } stop_serving{node};
    node.add_ring_listener([&](auto, auto) {
      coordinator.on_ring_change();
      handoff.request_sweep();
    });

    auto handler = std::make_shared<diststore::StoreHandler>(node, coordinator, handoff);
    auto processor = std::make_shared<rpc::StoreProcessor>(handler);
    const std::string outcome = node.start(processor);
    std::cout << "storeserver " << node.self_name() << " (" << engine->name()
              << "): " << outcome << std::endl;
    handoff.request_sweep();  // keys that moved while this node was away

    const int sig = cli::WaitForStopSignal();
    LOG(INFO) << "signal " << sig << ": handing keys off before leaving";
    coordinator.start_draining();
    const auto others = coordinator.others_ring();
    if (others->empty()) {
      LOG(WARNING) << "last node of the cluster: keys stay in this node's data";
    } else if (!handoff.drain(int64_t{FLAGS_drain_timeout_s} * 1000)) {
      LOG(ERROR) << "some keys could not be handed off within " << FLAGS_drain_timeout_s
                 << " s; they stay in this node's data";
    }
    node.leave();
    std::cout << "storeserver " << node.self_name() << ": left the cluster" << std::endl;
  } catch (const std::exception& e) {
    cli::Fail(1, e.what());
  }
  return 0;
}
