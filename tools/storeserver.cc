// storeserver: a diststore node. It joins (or starts) a cluster, stores the keys it owns in
// RocksDB (or memory), answers get/put from any node, and hands its keys off on a clean leave.
// Flags -> StoreOptions -> StoreNode (diststore/service/store_node.h).
#include <malloc.h>

#include <iostream>

#include <glog/logging.h>

#include "diststore/ops/store_http.h"
#include "diststore/service/store_node.h"
#include "diststore/storage/data_dir.h"
#include "tools/common/cli.h"
#include "tools/common/node_flags.h"

namespace {

// The store's own flags (the node's are cli::NodeFlags).
struct StoreFlags {
  std::string data_dir;
  bool memory = false;
  int64_t max_key_bytes = 64 * 1024;
  int64_t max_value_bytes = 16 * 1024 * 1024;
  int64_t max_clock_drift_ms = 60000;
  bool sync = false;
  int drain_timeout_s = 300;
  int replicas = 3;
  std::string read_consistency = "quorum";
  std::string write_consistency = "quorum";
  bool no_read_repair = false;
  bool strict_quorum = false;
  bool hints_count_for_w = false;
  std::string zone;
  int64_t max_hint_window_s = 3 * 3600;
  int64_t anti_entropy_interval_s = 600;
  int64_t gc_grace_s = 864000;
  int http_port = 0;

  explicit StoreFlags(thrifty::cli::CommandLine& command) {
    command.option("--data-dir", data_dir, "RocksDB data directory (default: ./data/<port>; created if missing)")
        .type_name("DIR");
    command.flag("--memory", memory, "keep data in memory only (lost on exit)");
    command.option("--max-key-bytes", max_key_bytes, "largest key accepted, in bytes");
    command.option("--max-value-bytes", max_value_bytes, "largest value accepted, in bytes");
    command.option("--max-clock-drift-ms", max_clock_drift_ms,
                   "refuse a version written by a peer that is further ahead of this node's clock");
    command.flag("--sync", sync, "fsync the write-ahead log before a write is acknowledged, once per group of concurrent writes (slower, survives power loss)");
    command.option("--drain-timeout-s", drain_timeout_s, "how long a clean leave may take to hand off its keys");
    command.option("--replicas", replicas,
                   "copies of each key, on distinct nodes (1..7; the same on every node)")
        .type_name("N");
    command.option("--read-consistency", read_consistency,
                   "replicas a read waits for unless it names its own: one, quorum or all")
        .type_name("LEVEL");
    command.option("--write-consistency", write_consistency,
                   "replicas a write waits for unless it names its own: one, quorum or all")
        .type_name("LEVEL");
    command.flag("--no-read-repair", no_read_repair,
                 "do not write the newest version to replicas a read found stale");
    command.flag("--strict-quorum", strict_quorum,
                 "keep no hints for replicas that miss a write (no hinted handoff)");
    command.flag("--hints-count-for-w", hints_count_for_w,
                 "a hint kept for a DEAD replica on a live non-replica counts toward W (sloppy "
                 "quorum: writes stay available, but a read may miss a write until the hint is "
                 "replayed)");
    command.option("--zone", zone,
                   "this node's failure domain (rack, host, zone): a key's replicas go to distinct "
                   "zones first (up to 64 of A-Z a-z 0-9 . _ -; none: the zone \"\")")
        .type_name("NAME");
    command.option("--max-hint-window-s", max_hint_window_s,
                   "hints older than this are dropped (the replica needs a repair then)");
    command.option("--anti-entropy-interval-s", anti_entropy_interval_s,
                   "with --replicas > 1, compare every range with its other replicas this often "
                   "and move what differs (0..604800; 0: only on demand, storectl repair)");
    command.option("--gc-grace-s", gc_grace_s,
                   "purge a tombstone only once it is this old and every replica of its range "
                   "agreed in a repair; hints and handoffs older than this are dropped "
                   "(1..315360000; a node down longer than this must be wiped before it rejoins)");
    command.option("--http-port", http_port,
                   "serve /metrics, /health and a status page over HTTP on this port, at the --bind "
                   "address (0: no HTTP endpoint)");
  }
};

}  // namespace

int main(int argc, char** argv) {
  using namespace thrifty;
  // Large buffers (a big value's frame, a batch) straight from and back to the kernel. With
  // glibc's default sliding threshold, freeing one mmapped chunk raises the threshold to its
  // size (up to 32 MiB), so the doubling buffer of the next big frame comes from the heap and
  // stays there after it is freed (measured: 66 MB kept after 20 refused 60 MB puts, one run
  // in three). A fixed threshold turns the sliding off; small allocations are unaffected.
  mallopt(M_MMAP_THRESHOLD, 256 << 10);
  mallopt(M_TRIM_THRESHOLD, 4 << 20);
  cli::CommandLine command(
      "usage: storeserver [--port N] [--peer HOST:PORT,... | --discovery etcd://HOST:PORT/PREFIX]\n"
      "                   [--data-dir DIR | --memory]\n"
      "                   [--max-key-bytes N] [--max-value-bytes N] [--replicas N] [--zone NAME]\n"
      "                   [--http-port N] [node options]\n"
      "Runs a diststore node: a key-value store on a flat peer-to-peer ring. Without --peer it\n"
      "joins a node found on 127.0.0.1 (ports 9900-9939) or starts a new cluster; with\n"
      "--discovery it joins the nodes registered in etcd and registers itself there.\n"
      "SIGINT/SIGTERM hand every key to its new owner, then leave the cluster and exit 0.");
  cli::NodeFlags node_flags(command);
  StoreFlags flags(command);
  const auto args = command.parse(argc, argv);
  if (!args.empty()) cli::Fail(2, "unexpected argument '" + args.front() + "' (see --help)");

  diststore::StoreOptions options;
  options.node = node_flags.options();
  options.data_dir = flags.data_dir;
  options.memory = flags.memory;
  options.sync = flags.sync;
  options.limits.max_key_bytes = flags.max_key_bytes;
  options.limits.max_value_bytes = flags.max_value_bytes;
  options.limits.max_clock_drift_ms = flags.max_clock_drift_ms;
  options.drain_timeout_ms = int64_t{flags.drain_timeout_s} * 1000;
  options.replication.replicas = flags.replicas;
  options.replication.read_repair = !flags.no_read_repair;
  options.hints.enabled = !flags.strict_quorum;
  options.replication.hints_count_for_w = flags.hints_count_for_w;
  options.zone = flags.zone;
  options.hints.max_hint_window_ms = flags.max_hint_window_s * 1000;
  if (flags.anti_entropy_interval_s < 0 || flags.anti_entropy_interval_s > 604800) {
    cli::Fail(2, "--anti-entropy-interval-s must be in 0..604800 (0: only on demand)");
  }
  if (flags.gc_grace_s < 1 || flags.gc_grace_s > 315360000) {
    cli::Fail(2, "--gc-grace-s must be in 1..315360000");
  }
  options.replication.anti_entropy_interval_ms = flags.anti_entropy_interval_s * 1000;
  options.replication.gc_grace_ms = flags.gc_grace_s * 1000;
  try {
    options.replication.read = diststore::ParseConsistency(flags.read_consistency);
    options.replication.write = diststore::ParseConsistency(flags.write_consistency);
  } catch (const std::invalid_argument& e) {
    cli::Fail(2, std::string(e.what()) + " (--read-consistency, --write-consistency)");
  }
  if (flags.http_port < 0 || flags.http_port > 65535) cli::Fail(2, "--http-port must be in 0..65535");
  if (flags.http_port != 0) {
    options.http.emplace();
    options.http->port = flags.http_port;
  }
  if (const std::string problem = options.validate(); !problem.empty()) cli::Fail(2, problem);
  cli::InitServerLogging(argv[0]);
  cli::InstallStopSignals();
  // Room for every connection allowed, plus the data files and peers' connections.
  cli::RaiseOpenFileLimit(int64_t{options.node.server.max_connections} + 4096);

  try {
    diststore::StoreNode store(options);
    const std::string outcome = store.start();
    std::cout << "storeserver " << store.node().self_name() << " (" << store.engine().name()
              << "): " << outcome
              << (store.http() ? "; HTTP on " + store.http()->url() : std::string()) << std::endl;

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
