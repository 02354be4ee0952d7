// storeselect: which node(s) of a thrifty cluster own each key, computed locally from a node
// list with the same placement library the nodes use (the "select" of proxenos).
//
//   storeselect --nodes HOST:PORT[=WEIGHT],... [--placement SCHEME] [--hash HASH] [-n N]
//               [--stats] [KEY ...]
//
// Exit status: 0 done, 1 input or output failed, 2 bad usage (one line on stderr).
//
// The node list comes from --nodes today; a live mode (--peer HOST:PORT, the list fetched from
// a running cluster) only needs another source for NodeList() below.
#include "Locator.h"
#include "locator/membership/member_table.h"
#include "locator/rpc/address.h"
#include "locator/rpc/connection_pool.h"
#include "locator/rpc/thrift_logging.h"
#include "locator/service/ring.h"

#include <cmath>
#include <iomanip>
#include <iostream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "locator/placement/node_spec.h"
#include "locator/placement/placement.h"
#include "tools/common/cli.h"

namespace {

using thrifty::placement::MakePlacement;
using thrifty::placement::NodeSpec;
using thrifty::placement::Placement;
using thrifty::placement::PlacementError;
using thrifty::placement::PlacementSpec;

using thrifty::cli::Fail;

namespace wire = thrifty::locator::wire;

constexpr int kFailed = 1;
constexpr int kBadUsage = 2;

// Set from the command line in main().
struct Flags {
  std::string nodes;
  std::string placement = "ketama";
  std::string hash;
  int n = 1;
  std::string peer;
  bool stats = false;
} flags;

constexpr const char* kUsage =
    "usage: storeselect --nodes HOST:PORT[=WEIGHT],... [--placement SCHEME] [--hash HASH]\n"
    "                   [-n N] [--stats] [--] [KEY ...]\n"
    "       storeselect --peer HOST:PORT [-n N] [--stats] [--] [KEY ...]\n"
    "\n"
    "With --peer, the nodes, weights and placement are those of the running cluster the node\n"
    "belongs to (its ring: ALIVE and SUSPECT members); the output is the same.\n"
    "\n"
    "Prints which node of a thrifty cluster owns each KEY, computed locally from the node\n"
    "list: one line KEY<TAB>HOST:PORT per key, or with -n N > 1 the key's first N nodes\n"
    "(the owner, then those that take over in turn), comma-separated. With no KEY, reads keys\n"
    "from standard input, one per line (a trailing CR is dropped, empty lines are skipped).\n"
    "--stats prints, instead, the keys per node (owners only), each node's share, max/mean\n"
    "and the standard deviation. Every node of one cluster, and storeselect, must be given\n"
    "the same placement, hash and node list to agree.\n"
    "\n"
    "Exit status: 0 done, 1 input or output failed, 2 bad usage.";

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The placement the flags name. Fails: PlacementError.
PlacementSpec SpecFromFlags() {
  const PlacementSpec spec = thrifty::placement::ParsePlacementSpec(flags.placement);
  if (flags.hash.empty()) return spec;
  if (flags.placement.find('/') != std::string::npos && spec.hash != flags.hash) {
    throw PlacementError("--placement " + flags.placement + " and --hash " + flags.hash +
                         " disagree");
  }
  return thrifty::placement::ParsePlacementSpec(spec.scheme + "/" + flags.hash);
}

// Live mode: the ring of the cluster --peer belongs to, and its placement. Fails:
// PlacementError (no answer, empty ring).
std::pair<PlacementSpec, std::vector<NodeSpec>> LiveRing() {
  wire::View view;
  try {
    thrifty::rpc::ConnectionPool<wire::LocatorClient> pool;
    pool.call(thrifty::rpc::ParseLocation(flags.peer),
              [&](wire::LocatorClient& c) { c.get_view(view); });
  } catch (const std::exception& e) {
    throw PlacementError("--peer " + flags.peer + ": " + e.what());
  }
  std::vector<NodeSpec> nodes;
  for (const auto& m : view.members) {
    if (m.state != wire::MemberState::ALIVE &&
        m.state != wire::MemberState::SUSPECT) {
      continue;
    }
    NodeSpec node = thrifty::placement::ParseNodeSpec(thrifty::membership::MemberName(m.location));
    node.weight = thrifty::locator::MemberWeight(m);
    nodes.push_back(node);
  }
  if (nodes.empty()) throw PlacementError("--peer " + flags.peer + ": the cluster's ring is empty");
  return {thrifty::placement::ParsePlacementSpec(view.placement), nodes};
}

// The nodes to place keys on. Fails: PlacementError.
std::vector<NodeSpec> NodeList() {
  if (flags.nodes.empty()) throw PlacementError("no nodes: give --nodes HOST:PORT[=WEIGHT],...");
  return thrifty::placement::ParseNodeList(flags.nodes);
}

// A ready placement of `nodes`. Fails: PlacementError.
std::shared_ptr<const Placement> BuildPlacement(const PlacementSpec& spec,
                                                const std::vector<NodeSpec>& nodes) {
  std::shared_ptr<Placement> placement = MakePlacement(spec);
  for (const NodeSpec& node : nodes) placement->add(node.id(), node.weight);
  placement->prepare();
  return placement;
}

// The keys to select for: the arguments, or else the lines of a stream.
class KeySource {
 public:
  KeySource(std::vector<std::string> args, std::istream* lines)
      : args_(std::move(args)), lines_(args_.empty() ? lines : nullptr) {}

  // Sets *key to the next key; false at the end.
  bool Next(std::string* key) {
    if (lines_ == nullptr) {
      if (next_arg_ == args_.size()) return false;
      *key = args_[next_arg_++];
      return true;
    }
    while (std::getline(*lines_, *key)) {
      if (!key->empty() && key->back() == '\r') key->pop_back();
      if (!key->empty()) return true;
    }
    return false;
  }

  // False if reading the stream failed (not merely ended).
  bool ok() const { return lines_ == nullptr || !lines_->bad(); }

 private:
  std::vector<std::string> args_;
  size_t next_arg_ = 0;
  std::istream* lines_;
};

void WriteSelections(const Placement& placement, int replicas, KeySource& keys, std::ostream& out) {
  std::string key;
  while (keys.Next(&key)) {
    out << key << '\t';
    if (replicas == 1) {
      out << placement.owner(key);
    } else {
      const std::vector<size_t> list = placement.preference_indices(key, replicas);
      for (size_t i = 0; i < list.size(); ++i) {
        if (i > 0) out << ',';
        out << placement.nodes()[list[i]];
      }
    }
    out << '\n';
  }
}

void WriteStats(const Placement& placement, KeySource& keys, std::ostream& out) {
  std::vector<uint64_t> counts(placement.size(), 0);
  uint64_t total = 0;
  std::string key;
  while (keys.Next(&key)) {
    ++counts[placement.owner_index(key)];
    ++total;
  }
  const double mean = static_cast<double>(total) / static_cast<double>(counts.size());
  uint64_t max = 0;
  double squares = 0;
  out << "node\tweight\tkeys\tshare\n" << std::fixed;
  for (size_t i = 0; i < counts.size(); ++i) {
    const double share = total == 0 ? 0 : 100.0 * static_cast<double>(counts[i]) / total;
    out << placement.nodes()[i] << '\t' << std::setprecision(6) << std::defaultfloat
        << placement.weights()[i] << '\t' << counts[i] << '\t' << std::fixed << std::setprecision(2)
        << share << "%\n";
    max = std::max(max, counts[i]);
    squares += (static_cast<double>(counts[i]) - mean) * (static_cast<double>(counts[i]) - mean);
  }
  const double stddev = std::sqrt(squares / static_cast<double>(counts.size()));
  out << std::setprecision(2) << "keys " << total << ", nodes " << counts.size() << ", mean "
      << mean << ", max/mean " << std::setprecision(4) << (mean > 0 ? max / mean : 0.0)
      << ", std dev " << std::setprecision(2) << stddev << " ("
      << (mean > 0 ? 100.0 * stddev / mean : 0.0) << "% of mean), placement " << placement.name()
      << '\n';
}

}  // namespace

int main(int argc, char** argv) {
  thrifty::cli::CommandLine command(kUsage);
  command.option("--nodes", flags.nodes, "the nodes, HOST:PORT[=WEIGHT],... (weight > 0, default 1)")
      .type_name("LIST");
  command.option("--placement", flags.placement,
                 "ketama, rendezvous, jump or modulo; SCHEME/HASH also names the hash")
      .type_name("SCHEME");
  command.option("--hash", flags.hash,
                 "md5, siphash, xxh64, xxh3 or fnv1a (default: md5 for ketama, the only one it "
                 "takes; xxh3 for the others)")
      .type_name("HASH");
  command.option("-n,--n", flags.n, "print each key's first N nodes (its preference list), comma-separated");
  command.option("--peer", flags.peer,
                 "live mode: ask the node HOST:PORT for its cluster's ring (members, weights, "
                 "placement) instead of --nodes")
      .type_name("HOST:PORT");
  command.flag("--stats", flags.stats, "print how the keys spread over the nodes instead of each key");
  std::vector<std::string> args = command.parse(argc, argv);
  thrifty::rpc::RouteThriftLogsToGlog();  // one clear line on stderr, not Thrift's own noise
  std::ios::sync_with_stdio(false);

  std::shared_ptr<const Placement> placement;
  try {
    if (flags.n < 1) throw UsageError("-n must be at least 1, not " + std::to_string(flags.n));
    if (!flags.peer.empty()) {
      if (!flags.nodes.empty()) throw UsageError("--peer and --nodes exclude each other");
      const auto [spec, nodes] = LiveRing();
      placement = BuildPlacement(spec, nodes);
    } else {
      placement = BuildPlacement(SpecFromFlags(), NodeList());
    }
  } catch (const std::exception& e) {
    Fail(kBadUsage, e.what());
  }

  KeySource keys(std::move(args), &std::cin);
  try {
    if (flags.stats) {
      WriteStats(*placement, keys, std::cout);
    } else {
      WriteSelections(*placement, flags.n, keys, std::cout);
    }
  } catch (const std::exception& e) {
    Fail(kFailed, e.what());
  }
  std::cout.flush();
  if (!keys.ok()) Fail(kFailed, "cannot read keys from standard input");
  if (!std::cout) Fail(kFailed, "cannot write to standard output");
  return 0;
}
