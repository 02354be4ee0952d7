// storectl: the admin view of a cluster (members, ring ownership, status, stats).
#include <iomanip>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "Store.h"
#include "locator/membership/member_table.h"
#include "locator/rpc/address.h"
#include "locator/rpc/connection_pool.h"
#include "locator/service/ring.h"
#include "tools/common/cli.h"
#include "tools/common/client_flags.h"

namespace {

using namespace thrifty;
using Json = nlohmann::ordered_json;

// Set from the command line in main().
struct Flags {
  bool json = false;
  int samples = 100000;
} flags;

struct Admin {
  locator::wire::Location entry;
  rpc::ConnectionPool<diststore::wire::StoreClient> pool;

  locator::wire::View view() {
    locator::wire::View v;
    pool.call(entry, [&](diststore::wire::StoreClient& c) { c.get_view(v); });
    return v;
  }
  std::map<std::string, int64_t> stats(const locator::wire::Location& node) {
    std::map<std::string, int64_t> out;
    pool.call(node, [&](diststore::wire::StoreClient& c) { c.stats(out); });
    return out;
  }
};

std::vector<locator::wire::Member> InRing(const locator::wire::View& view) {
  std::vector<locator::wire::Member> out;
  for (const auto& m : view.members) {
    if (m.state == locator::wire::MemberState::ALIVE || m.state == locator::wire::MemberState::SUSPECT) out.push_back(m);
  }
  return out;
}

// Share of keys per node, estimated by placing sample keys.
std::map<std::string, double> Ownership(const locator::wire::View& view) {
  std::map<std::string, double> share;
  const auto members = InRing(view);
  if (members.empty()) return share;
  locator::Ring ring(members, view.placement);
  std::map<std::string, int64_t> counts;
  for (int i = 0; i < flags.samples; ++i) {
    counts[membership::MemberName(ring.owner("sample-" + std::to_string(i)))]++;
  }
  for (const auto& m : members) {
    const std::string name = membership::MemberName(m.location);
    share[name] = 100.0 * static_cast<double>(counts[name]) / flags.samples;
  }
  return share;
}

int Members(Admin& admin) {
  const locator::wire::View view = admin.view();
  if (flags.json) {
    Json members = Json::array();
    for (const auto& m : view.members) {
      members.push_back({{"address", rpc::ToString(m.location)},
                         {"state", membership::StateName(m.state)},
                         {"incarnation", m.incarnation},
                         {"metadata", m.metadata}});
    }
    cli::PrintJson(members);
    return 0;
  }
  std::cout << std::left << std::setw(24) << "ADDRESS" << std::setw(9) << "STATE"
            << std::setw(16) << "INCARNATION" << "METADATA\n";
  for (const auto& m : view.members) {
    std::ostringstream meta;
    for (const auto& [k, v] : m.metadata) meta << k << "=" << v << " ";
    std::cout << std::left << std::setw(24) << rpc::ToString(m.location) << std::setw(9)
              << membership::StateName(m.state) << std::setw(16) << m.incarnation << meta.str()
              << "\n";
  }
  return 0;
}

int RingCmd(Admin& admin) {
  const locator::wire::View view = admin.view();
  const auto share = Ownership(view);
  if (flags.json) {
    Json nodes = Json::array();
    for (const auto& m : InRing(view)) {
      nodes.push_back({{"address", rpc::ToString(m.location)},
                       {"weight", locator::MemberWeight(m)},
                       {"ownership", share.at(membership::MemberName(m.location)) / 100.0}});
    }
    cli::PrintJson({{"placement", view.placement}, {"nodes", nodes}});
    return 0;
  }
  std::cout << "placement: " << view.placement << " (ownership estimated from " << flags.samples
            << " sample keys)\n";
  std::cout << std::left << std::setw(24) << "ADDRESS" << std::setw(8) << "WEIGHT" << "OWNS\n";
  for (const auto& m : InRing(view)) {
    const std::string name = membership::MemberName(m.location);
    std::cout << std::left << std::setw(24) << rpc::ToString(m.location) << std::setw(8)
              << locator::MemberWeight(m) << std::fixed << std::setprecision(1)
              << share.at(name) << "%\n";
  }
  return 0;
}

int Status(Admin& admin) {
  const locator::wire::View view = admin.view();
  const auto share = Ownership(view);
  Json rows = Json::array();
  if (!flags.json) {
    std::cout << std::left << std::setw(24) << "ADDRESS" << std::setw(9) << "STATE" << std::setw(8)
              << "OWNS" << std::setw(12) << "KEYS" << "REQUESTS\n";
  }
  for (const auto& m : view.members) {
    const std::string name = membership::MemberName(m.location);
    int64_t keys = -1, requests = -1;
    if (m.state == locator::wire::MemberState::ALIVE ||
        m.state == locator::wire::MemberState::SUSPECT) {
      try {
        auto s = admin.stats(m.location);
        keys = s.count("keys") ? s["keys"] : -1;
        requests = s.count("gets") ? s["gets"] + s["puts"] + s["erases"] : -1;
      } catch (const std::exception&) {
      }
    }
    const double owns = share.count(name) ? share.at(name) : 0.0;
    if (flags.json) {
      rows.push_back({{"address", rpc::ToString(m.location)},
                      {"state", membership::StateName(m.state)},
                      {"ownership", owns / 100.0},
                      {"keys", keys},
                      {"requests", requests}});
      continue;
    }
    std::ostringstream owns_text;
    owns_text << std::fixed << std::setprecision(1) << owns << "%";
    std::cout << std::left << std::setw(24) << rpc::ToString(m.location) << std::setw(9)
              << membership::StateName(m.state) << std::setw(8) << owns_text.str() << std::setw(12)
              << (keys < 0 ? std::string("?") : std::to_string(keys))
              << (requests < 0 ? std::string("?") : std::to_string(requests)) << "\n";
  }
  if (flags.json) cli::PrintJson(rows);
  return 0;
}

int Stats(Admin& admin, bool prometheus) {
  const auto stats = admin.stats(admin.entry);
  if (prometheus) {
    const std::string node = rpc::ToString(admin.entry);
    for (const auto& [k, v] : stats) {
      std::cout << "# TYPE thrifty_" << k << " untyped\n"
                << "thrifty_" << k << "{node=\"" << node << "\"} " << v << "\n";
    }
    return 0;
  }
  if (flags.json) {
    cli::PrintJson(stats);
    return 0;
  }
  for (const auto& [k, v] : stats) std::cout << std::left << std::setw(32) << k << " " << v << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  cli::CommandLine command(
      "usage: storectl [--peer HOST:PORT] [--json] COMMAND\n"
      "Commands:\n"
      "  members   every member the node knows: address, state, incarnation, metadata\n"
      "  ring      each ring node's weight and share of the keys\n"
      "  status    members with state, ownership, keys and requests (like nodetool status)\n"
      "  stats     the node's counters\n"
      "  metrics   the node's counters in Prometheus text format\n"
      "Works against storeserver and bare locator nodes (give --peer for the latter).\n"
      "--json prints one line of JSON; strings are UTF-8, and bytes of a metadata value that are\n"
      "not valid UTF-8 are each replaced by U+FFFD.");
  cli::ClientFlags client_flags(command);
  command.flag("--json", flags.json, "print JSON instead of a table");
  command.option("--samples", flags.samples, "sample keys used to estimate ring ownership");
  const auto args = command.parse(argc, argv);
  if (args.size() != 1) cli::Fail(2, "expected one COMMAND (see --help)");
  cli::InitClientLogging(argv[0]);
  if (flags.samples < 1 || flags.samples > 10000000) cli::Fail(2, "--samples must be in 1..10000000");
  Admin admin{client_flags.EntryNode(), rpc::ConnectionPool<diststore::wire::StoreClient>()};
  try {
    const std::string& cmd = args[0];
    if (cmd == "members") return Members(admin);
    if (cmd == "ring") return RingCmd(admin);
    if (cmd == "status") return Status(admin);
    if (cmd == "stats") return Stats(admin, false);
    if (cmd == "metrics") return Stats(admin, true);
    cli::Fail(2, "unknown command '" + cmd + "' (see --help)");
  } catch (const std::exception& e) {
    cli::Fail(2, std::string("cannot reach ") + rpc::ToString(admin.entry) + ": " + e.what());
  }
}
