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
#include <gflags/gflags.h>

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

DEFINE_string(nodes, "", "the nodes, HOST:PORT[=WEIGHT],... (weight > 0, default 1)");
DEFINE_string(placement, "ketama",
              "ketama, rendezvous, jump or modulo; SCHEME/HASH also names the hash");
DEFINE_string(hash, "",
              "md5, siphash, xxh64, xxh3 or fnv1a (default: md5 for ketama, the only one it "
              "takes; xxh3 for the others)");
DEFINE_int32(n, 1, "print each key's first N nodes (its preference list), comma-separated");
DEFINE_string(peer, "",
              "live mode: ask the node HOST:PORT for its cluster's ring (members, weights, "
              "placement) instead of --nodes");
DEFINE_bool(stats, false, "print how the keys spread over the nodes instead of each key");

namespace {

using thrifty::placement::MakePlacement;
using thrifty::placement::NodeSpec;
using thrifty::placement::Placement;
using thrifty::placement::PlacementError;
using thrifty::placement::PlacementSpec;

constexpr int kFailed = 1;
constexpr int kBadUsage = 2;

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

// The flags of this tool, in the order --help lists them.
constexpr const char* kFlagOrder[] = {"nodes", "placement", "hash", "n", "stats"};

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Writes `text` from column `indent`, wrapped at 80 columns.
void WriteWrapped(std::ostream& out, const std::string& text, size_t indent, size_t column) {
  std::istringstream words(text);
  std::string word;
  while (words >> word) {
    if (column > indent && column + 1 + word.size() > 80) {
      out << '\n' << std::string(indent, ' ');
      column = indent;
    } else if (column > indent) {
      out << ' ';
      ++column;
    }
    out << word;
    column += word.size();
  }
  out << '\n';
}

void PrintHelp() {
  constexpr size_t kIndent = 20;
  std::cout << gflags::ProgramUsage() << "\n\nflags:\n";
  for (const char* name : kFlagOrder) {
    gflags::CommandLineFlagInfo info;
    if (!gflags::GetCommandLineFlagInfo(name, &info)) continue;
    std::string flag = "  " + std::string(info.name.size() == 1 ? "-" : "--") + info.name;
    if (info.type != "bool")
      flag += info.name == "n" ? " N" : info.name == "nodes" ? " LIST" : " NAME";
    std::string text = info.description;
    if (info.type != "bool" && !info.default_value.empty()) {
      text += " [default: " + info.default_value + "]";
    }
    std::cout << flag;
    size_t column = flag.size();
    if (column + 1 >= kIndent) {
      std::cout << '\n';
      column = 0;
    }
    std::cout << std::string(kIndent - column, ' ');
    WriteWrapped(std::cout, text, kIndent, kIndent);
  }
  std::cout << "  --help" << std::string(kIndent - 8, ' ') << "print this help\n";
}

bool IsOurFlag(const std::string& name, gflags::CommandLineFlagInfo* info) {
  return gflags::GetCommandLineFlagInfo(name.c_str(), info) && info->filename == __FILE__;
}

// Parses the command line with gflags' registry but our own rules, so that only this tool's
// flags exist, --help lists only them, and every mistake is one line and exit status 2
// (gflags' own parser exits 1 with several lines). Returns the KEY arguments.
// Exits 0 after --help. Fails: UsageError.
std::vector<std::string> ParseCommandLine(int argc, char** argv) {
  std::vector<std::string> keys;
  bool only_keys = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (only_keys || arg.size() < 2 || arg[0] != '-') {
      keys.push_back(arg);
      continue;
    }
    if (arg == "--") {
      only_keys = true;
      continue;
    }
    const std::string body = arg.substr(arg[1] == '-' ? 2 : 1);
    const size_t eq = body.find('=');
    std::string name = body.substr(0, eq);
    if (name == "help" || name == "h" || name == "helpshort" || name == "helpfull" || name == "?") {
      PrintHelp();
      std::exit(0);
    }
    gflags::CommandLineFlagInfo info;
    std::string value;
    if (IsOurFlag(name, &info)) {
      if (eq != std::string::npos) {
        value = body.substr(eq + 1);
      } else if (info.type == "bool") {
        value = "true";
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        throw UsageError("flag " + arg + " needs a value (see --help)");
      }
    } else if (name.rfind("no", 0) == 0 && eq == std::string::npos &&
               IsOurFlag(name.substr(2), &info) && info.type == "bool") {
      name = name.substr(2);
      value = "false";
    } else {
      throw UsageError("unknown flag " + arg + " (see --help)");
    }
    if (gflags::SetCommandLineOption(name.c_str(), value.c_str()).empty()) {
      throw UsageError("bad value '" + value + "' for " + (name.size() == 1 ? "-" : "--") + name +
                       " (see --help)");
    }
  }
  return keys;
}

// The placement the flags name. Fails: PlacementError.
PlacementSpec SpecFromFlags() {
  const PlacementSpec spec = thrifty::placement::ParsePlacementSpec(FLAGS_placement);
  if (FLAGS_hash.empty()) return spec;
  if (FLAGS_placement.find('/') != std::string::npos && spec.hash != FLAGS_hash) {
    throw PlacementError("--placement " + FLAGS_placement + " and --hash " + FLAGS_hash +
                         " disagree");
  }
  return thrifty::placement::ParsePlacementSpec(spec.scheme + "/" + FLAGS_hash);
}

// Live mode: the ring of the cluster --peer belongs to, and its placement. Fails:
// PlacementError (no answer, empty ring).
std::pair<PlacementSpec, std::vector<NodeSpec>> LiveRing() {
  thrifty::rpc::View view;
  try {
    thrifty::rpc::ConnectionPool<thrifty::rpc::LocatorClient> pool;
    pool.call(thrifty::rpc::ParseLocation(FLAGS_peer),
              [&](thrifty::rpc::LocatorClient& c) { c.get_view(view); });
  } catch (const std::exception& e) {
    throw PlacementError("--peer " + FLAGS_peer + ": " + e.what());
  }
  std::vector<NodeSpec> nodes;
  for (const auto& m : view.members) {
    if (m.state != thrifty::rpc::MemberState::ALIVE &&
        m.state != thrifty::rpc::MemberState::SUSPECT) {
      continue;
    }
    NodeSpec node = thrifty::placement::ParseNodeSpec(thrifty::membership::MemberName(m.location));
    node.weight = thrifty::locator::MemberWeight(m);
    nodes.push_back(node);
  }
  if (nodes.empty()) throw PlacementError("--peer " + FLAGS_peer + ": the cluster's ring is empty");
  return {thrifty::placement::ParsePlacementSpec(view.placement), nodes};
}

// The nodes to place keys on. Fails: PlacementError.
std::vector<NodeSpec> NodeList() {
  if (FLAGS_nodes.empty()) throw PlacementError("no nodes: give --nodes HOST:PORT[=WEIGHT],...");
  return thrifty::placement::ParseNodeList(FLAGS_nodes);
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

[[noreturn]] void Fail(int status, const std::string& message) {
  std::cout.flush();
  std::cerr << "storeselect: " << message << std::endl;
  std::exit(status);
}

}  // namespace

int main(int argc, char** argv) {
  thrifty::rpc::RouteThriftLogsToGlog();  // one clear line on stderr, not Thrift's own noise
  gflags::SetUsageMessage(kUsage);
  std::ios::sync_with_stdio(false);

  std::shared_ptr<const Placement> placement;
  std::vector<std::string> args;
  try {
    args = ParseCommandLine(argc, argv);
    if (FLAGS_n < 1) throw UsageError("-n must be at least 1, not " + std::to_string(FLAGS_n));
    if (!FLAGS_peer.empty()) {
      if (!FLAGS_nodes.empty()) throw UsageError("--peer and --nodes exclude each other");
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
    if (FLAGS_stats) {
      WriteStats(*placement, keys, std::cout);
    } else {
      WriteSelections(*placement, FLAGS_n, keys, std::cout);
    }
  } catch (const std::exception& e) {
    Fail(kFailed, e.what());
  }
  std::cout.flush();
  if (!keys.ok()) Fail(kFailed, "cannot read keys from standard input");
  if (!std::cout) Fail(kFailed, "cannot write to standard output");
  return 0;
}
