// storeserver: a diststore node. It joins (or starts) a cluster, stores the keys it owns in
// RocksDB (or memory), answers get/put from any node, and hands its keys off on a clean leave.
// Flags -> StoreOptions -> StoreNode (diststore/service/store_node.h).
#include <iostream>

#include <gflags/gflags.h>
#include <glog/logging.h>

#include "diststore/service/store_node.h"
#include "diststore/storage/data_dir.h"
#include "tools/common/cli.h"
#include "tools/common/node_flags.h"

DEFINE_string(data_dir, "", "RocksDB data directory (default: ./data/<port>; created if missing)");
DEFINE_bool(memory, false, "keep data in memory only (lost on exit)");
DEFINE_int64(max_key_bytes, 64 * 1024, "largest key accepted, in bytes");
DEFINE_int64(max_value_bytes, 16 * 1024 * 1024, "largest value accepted, in bytes");
DEFINE_int64(max_clock_drift_ms, 60000,
             "refuse a version written by a peer that is further ahead of this node's clock");
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

  diststore::StoreOptions options;
  options.node = cli::NodeOptionsFromFlags();
  options.data_dir = FLAGS_data_dir;
  options.memory = FLAGS_memory;
  options.sync = FLAGS_sync;
  options.limits.max_key_bytes = FLAGS_max_key_bytes;
  options.limits.max_value_bytes = FLAGS_max_value_bytes;
  options.limits.max_clock_drift_ms = FLAGS_max_clock_drift_ms;
  options.drain_timeout_ms = int64_t{FLAGS_drain_timeout_s} * 1000;
  if (const std::string problem = options.validate(); !problem.empty()) cli::Fail(2, problem);
  cli::InitServerLogging(argv[0]);
  cli::InstallStopSignals();

  try {
    diststore::StoreNode store(options);
    const std::string outcome = store.start();
    std::cout << "storeserver " << store.node().self_name() << " (" << store.engine().name()
              << "): " << outcome << std::endl;

    const int sig = cli::WaitForStopSignal();
    LOG(INFO) << "signal " << sig << ": handing keys off before leaving";
    store.leave();
    std::cout << "storeserver " << store.node().self_name() << ": left the cluster" << std::endl;
  } catch (const storage::DataDirError& e) {
    cli::Fail(2, e.what());
  } catch (const std::exception& e) {
    cli::Fail(1, e.what());
  }
  return 0;
}
