// storectl: the admin view of a cluster (members, ring ownership, status, stats) and repair.
#include <algorithm>
#include <future>
#include <iostream>
#include <optional>
#include <sstream>

#include <nlohmann/json.hpp>

#include "Store.h"
#include "diststore/service/durability.h"
#include "diststore/service/replica_set.h"
#include "diststore/service/replication.h"
#include "locator/membership/member_table.h"
#include "locator/rpc/address.h"
#include "locator/rpc/connection_pool.h"
#include "locator/membership/key_ring.h"
#include "locator/service/peer_auth.h"
#include "locator/service/ring.h"
#include "tools/common/cli.h"
#include "tools/common/client_flags.h"
#include "tools/common/format.h"

namespace {

using namespace thrifty;
using Json = nlohmann::ordered_json;
using locator::wire::Member;
using locator::wire::MemberState;
using Stats = std::map<std::string, int64_t>;
using cli::Table;

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
  Stats stats(const locator::wire::Location& node) {
    Stats out;
    pool.call(node, [&](diststore::wire::StoreClient& c) { c.stats(out); });
    return out;
  }
};

bool InRing(const Member& m) { return m.state == MemberState::ALIVE || m.state == MemberState::SUSPECT; }

std::optional<int64_t> Stat(const Stats& stats, const char* name) {
  const auto it = stats.find(name);
  if (it == stats.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string> Metadata(const Member& m, const char* key) {
  const auto it = m.metadata.find(key);
  if (it == m.metadata.end() || it->second.empty()) return std::nullopt;
  return it->second;
}

// Copies per key: what the members say in their metadata (store nodes all say the same, the
// join rule sees to it); 1 when none says (bare locators).
int Replicas(const locator::wire::View& view) {
  int replicas = 1;
  for (const Member& m : view.members) {
    if (m.state == MemberState::LEFT) continue;
    if (const auto text = Metadata(m, diststore::kReplicasKey)) {
      try {
        replicas = std::max(replicas, std::stoi(*text));
      } catch (const std::exception&) {
      }
    }
  }
  return replicas;
}

// Each node's share of the keys, as fractions, estimated by placing sample keys:
// - primary: the keys it owns (the first node of their preference lists on the ring of ALIVE
//   and SUSPECT members);
// - effective: the keys it keeps a copy of. With one copy the same; with N copies each key's
//   replica set as the nodes compute it (diststore/service/replica_set.h: the ring that keeps
//   DEAD members in, distinct zones first), so the effective shares sum to N (if there are at
//   least N nodes), like nodetool's "Owns (effective)".
struct Shares {
  std::map<std::string, double> primary, effective;
};

Shares Ownership(const locator::wire::View& view, int replicas) {
  std::vector<Member> ring_members, with_dead;
  for (const Member& m : view.members) {
    if (InRing(m)) ring_members.push_back(m);
    if (InRing(m) || m.state == MemberState::DEAD) with_dead.push_back(m);
  }
  std::map<std::string, int64_t> owned, kept;
  if (!ring_members.empty()) {
    locator::Ring ring(ring_members, view.placement);
    for (int i = 0; i < flags.samples; ++i) {
      ++owned[membership::MemberName(ring.owner("sample-" + std::to_string(i)))];
    }
  }
  if (replicas <= 1) {
    kept = owned;
  } else if (!with_dead.empty()) {
    const auto snapshot =
        locator::ClusterSnapshot::Build(0, view.members, "", view.placement, nullptr);
    const diststore::ReplicaPlacement placement(*snapshot, static_cast<size_t>(replicas), false);
    for (int i = 0; i < flags.samples; ++i) {
      for (const auto& name : placement.of("sample-" + std::to_string(i)).names) ++kept[name];
    }
  }
  Shares shares;
  for (const auto& [name, n] : owned) shares.primary[name] = static_cast<double>(n) / flags.samples;
  for (const auto& [name, n] : kept) shares.effective[name] = static_cast<double>(n) / flags.samples;
  return shares;
}

double Share(const std::map<std::string, double>& shares, const std::string& name) {
  const auto it = shares.find(name);
  return it == shares.end() ? 0.0 : it->second;
}

std::string FormatWeight(double weight) {
  std::ostringstream out;
  out << weight;  // "1", "2.5": the shortest form, never a stream's sticky std::fixed
  return out.str();
}

// A header line underlined, like nodetool's "Datacenter: dc1".
void Title(const std::string& text) {
  std::cout << text << "\n" << std::string(text.size(), '=') << "\n";
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
  Table table({{"ADDRESS"}, {"STATE"}, {"INCARNATION", Table::Align::kRight}, {"METADATA"}});
  for (const auto& m : view.members) {
    std::string meta;
    for (const auto& [k, v] : m.metadata) meta += (meta.empty() ? "" : " ") + k + "=" + v;
    table.add({rpc::ToString(m.location), membership::StateName(m.state),
               std::to_string(m.incarnation), meta});
  }
  table.print(std::cout);
  return 0;
}

int RingCmd(Admin& admin) {
  const locator::wire::View view = admin.view();
  const int replicas = Replicas(view);
  const Shares shares = Ownership(view, replicas);
  // The ring's nodes; with replicas, DEAD members too: they keep their place in replica sets.
  std::vector<Member> nodes;
  for (const Member& m : view.members) {
    if (InRing(m) || (replicas > 1 && m.state == MemberState::DEAD)) nodes.push_back(m);
  }
  if (flags.json) {
    Json out = Json::array();
    for (const Member& m : nodes) {
      const std::string name = membership::MemberName(m.location);
      out.push_back({{"address", rpc::ToString(m.location)},
                     {"state", membership::StateName(m.state)},
                     {"weight", locator::MemberWeight(m)},
                     {"ownership", Share(shares.primary, name)},
                     {"effective_ownership", Share(shares.effective, name)}});
    }
    cli::PrintJson({{"placement", view.placement},
                    {"replicas", replicas},
                    {"samples", flags.samples},
                    {"nodes", out}});
    return 0;
  }
  std::cout << "placement: " << view.placement << ", replicas: " << replicas
            << " (shares estimated from " << flags.samples << " sample keys)\n";
  Table table({{"ADDRESS"},
               {"STATE"},
               {"WEIGHT", Table::Align::kRight},
               {"OWNS", Table::Align::kRight},
               {"OWNS (EFFECTIVE)", Table::Align::kRight}});
  for (const Member& m : nodes) {
    const std::string name = membership::MemberName(m.location);
    table.add({rpc::ToString(m.location), membership::StateName(m.state),
               FormatWeight(locator::MemberWeight(m)), cli::Percent(Share(shares.primary, name)),
               cli::Percent(Share(shares.effective, name))});
  }
  table.print(std::cout);
  return 0;
}

// One member as `status` shows it. Up or down is the entry node's view (ALIVE is up; SUSPECT
// and DEAD are down); the state and the numbers are what the member itself says in its stats,
// unknown when it did not answer.
struct StatusRow {
  const Member* member = nullptr;
  bool answered = false;
  Stats stats;

  bool up() const { return member->state == MemberState::ALIVE; }
  std::optional<std::string> phase() const {
    for (const char* phase : {"joining", "serving", "draining", "stopped"}) {
      if (Stat(stats, ("phase_" + std::string(phase)).c_str()).value_or(0) == 1) return phase;
    }
    return std::nullopt;
  }
  // N (normal), J (joining), L (leaving: draining before a clean leave, or stopped), M (moving:
  // thrifty nodes never move). A member that did not answer, or does not say, shows N.
  char state() const {
    const auto p = phase();
    if (p == "joining") return 'J';
    if (p == "draining" || p == "stopped") return 'L';
    return 'N';
  }
  std::string code() const { return std::string(1, up() ? 'U' : 'D') + state(); }
  // A stat of the member: nullopt when it did not answer or does not report it (or reports
  // it as unknown, -1).
  std::optional<int64_t> stat(const char* name) const {
    const auto value = Stat(stats, name);
    if (!answered || !value || *value < 0) return std::nullopt;
    return value;
  }
  std::optional<std::string> version() const {
    const auto major = stat("version_major"), minor = stat("version_minor"),
               patch = stat("version_patch");
    if (!major || !minor || !patch) return std::nullopt;
    return std::to_string(*major) + "." + std::to_string(*minor) + "." + std::to_string(*patch);
  }
  // "?" when the member did not answer, "-" when it answered without this number.
  std::string text(const std::optional<std::string>& value) const {
    return value ? *value : answered ? "-" : "?";
  }
};

template <typename T>
Json OrNull(const std::optional<T>& value) {
  return value ? Json(*value) : Json(nullptr);
}

int Status(Admin& admin) {
  const locator::wire::View view = admin.view();
  const int replicas = Replicas(view);
  const Shares shares = Ownership(view, replicas);
  std::vector<const Member*> members;  // LEFT members are gone: not listed
  for (const Member& m : view.members) {
    if (m.state != MemberState::LEFT) members.push_back(&m);
  }
  std::sort(members.begin(), members.end(), [](const Member* a, const Member* b) {
    return membership::MemberName(a->location) < membership::MemberName(b->location);
  });
  // Every member the view has in its ring is asked, in parallel (a DEAD one is not: only a
  // member that comes back says anything again).
  std::vector<StatusRow> rows(members.size());
  std::vector<std::future<std::optional<Stats>>> answers(members.size());
  for (size_t i = 0; i < members.size(); ++i) {
    rows[i].member = members[i];
    if (!InRing(*members[i])) continue;
    answers[i] = std::async(std::launch::async, [&admin, where = members[i]->location]() -> std::optional<Stats> {
      try {
        return admin.stats(where);
      } catch (const std::exception&) {
        return std::nullopt;
      }
    });
  }
  for (size_t i = 0; i < members.size(); ++i) {
    if (!answers[i].valid()) continue;
    if (auto stats = answers[i].get()) {
      rows[i].answered = true;
      rows[i].stats = std::move(*stats);
    }
  }

  if (flags.json) {
    Json out = Json::array();
    for (const StatusRow& row : rows) {
      const Member& m = *row.member;
      const std::string name = membership::MemberName(m.location);
      const auto gets = row.stat("gets"), puts = row.stat("puts"), erases = row.stat("erases");
      std::optional<int64_t> requests;
      if (gets && puts && erases) requests = *gets + *puts + *erases;
      out.push_back({{"code", row.code()},
                     {"address", rpc::ToString(m.location)},
                     {"state", membership::StateName(m.state)},
                     {"up", row.up()},
                     {"answered", row.answered},
                     {"phase", OrNull(row.phase())},
                     {"data_bytes", OrNull(row.stat("data_bytes"))},
                     {"keys", OrNull(row.stat("keys"))},
                     {"ownership", Share(shares.primary, name)},
                     {"effective_ownership", Share(shares.effective, name)},
                     {"replicas", replicas},
                     {"host_id", OrNull(Metadata(m, diststore::kHostIdKey))},
                     {"uptime_s", OrNull(row.stat("uptime_s"))},
                     {"version", OrNull(row.version())},
                     {"zone", OrNull(Metadata(m, "zone"))},
                     {"hints_pending", OrNull(row.stat("hints_pending"))},
                     {"requests", OrNull(requests)}});
    }
    cli::PrintJson(out);
    return 0;
  }

  Title("Placement: " + view.placement + ", replicas: " + std::to_string(replicas));
  std::cout << "Status=Up/Down\n|/ State=Normal/Leaving/Joining/Moving\n";
  Table table({{"--"},
               {"Address"},
               {"Load"},
               {"Keys"},
               {"Owns (effective)"},
               {"Host ID"},
               {"Uptime"},
               {"Version"},
               {"Zone"},
               {"Hints"}});
  auto number = [](const std::optional<int64_t>& v) {
    return v ? std::optional<std::string>(std::to_string(*v)) : std::nullopt;
  };
  for (const StatusRow& row : rows) {
    const Member& m = *row.member;
    const auto load = row.stat("data_bytes"), uptime = row.stat("uptime_s");
    table.add({row.code(), rpc::ToString(m.location),
               row.text(load ? std::optional<std::string>(cli::HumanBytes(*load)) : std::nullopt),
               row.text(number(row.stat("keys"))),
               cli::Percent(Share(shares.effective, membership::MemberName(m.location))),
               Metadata(m, diststore::kHostIdKey).value_or("-"),
               row.text(uptime ? std::optional<std::string>(cli::HumanDuration(*uptime)) : std::nullopt),
               row.text(row.version()), Metadata(m, "zone").value_or("-"),
               row.text(number(row.stat("hints_pending")))});
  }
  table.print(std::cout);
  return 0;
}

int StatsCmd(Admin& admin, bool prometheus) {
  const auto stats = admin.stats(admin.entry);
  if (prometheus) {
    if (flags.json) {
      Json out = Json::object();
      for (const auto& [k, v] : stats) out["thrifty_" + k] = v;
      cli::PrintJson(out);
      return 0;
    }
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
  size_t width = 0;
  for (const auto& entry : stats) width = std::max(width, entry.first.size());
  for (const auto& [k, v] : stats) std::cout << k << std::string(width + 1 - k.size(), ' ') << v << "\n";
  return 0;
}

// The repair report's numbers, by name, in the order they are printed.
std::vector<std::pair<const char*, int64_t>> RepairNumbers(const diststore::wire::RepairReport& r) {
  return {{"ranges_compared", r.ranges_compared}, {"ranges_differing", r.ranges_differing},
          {"keys_moved", r.keys_moved},           {"hashes_exchanged", r.hashes_exchanged},
          {"peers_skipped", r.peers_skipped},     {"tombstones_purged", r.tombstones_purged}};
}

std::string FormatSeconds(double seconds) {
  std::ostringstream out;
  out.setf(std::ios::fixed);
  out.precision(2);
  out << seconds << " s";
  return out.str();
}

// Runs anti-entropy on the node --peer names, or on every ring member of the entry node's view
// in turn; one row per node and a total.
int RepairCmd(Admin& admin, bool one_node, int timeout_ms) {
  std::vector<locator::wire::Location> nodes;
  if (one_node) {
    nodes.push_back(admin.entry);
  } else {
    for (const Member& m : admin.view().members) {
      if (InRing(m)) nodes.push_back(m.location);
    }
  }
  rpc::PoolOptions options;
  options.call_timeout_ms = timeout_ms;
  rpc::ConnectionPool<diststore::wire::StoreClient> pool(options);
  std::vector<diststore::wire::RepairReport> reports;
  std::vector<std::pair<std::string, std::string>> failures;  // node, why
  for (const auto& node : nodes) {
    try {
      diststore::wire::RepairReport report;
      pool.call(node, [&](diststore::wire::StoreClient& c) { c.repair(report); });
      reports.push_back(std::move(report));
    } catch (const diststore::wire::StoreError& e) {
      failures.emplace_back(rpc::ToString(node), e.message);
    } catch (const std::exception& e) {
      failures.emplace_back(rpc::ToString(node), e.what());
    }
  }
  diststore::wire::RepairReport total;
  for (const auto& r : reports) {
    total.ranges_compared += r.ranges_compared;
    total.ranges_differing += r.ranges_differing;
    total.keys_moved += r.keys_moved;
    total.hashes_exchanged += r.hashes_exchanged;
    total.peers_skipped += r.peers_skipped;
    total.tombstones_purged += r.tombstones_purged;
    total.seconds += r.seconds;
  }
  if (flags.json) {
    Json out_nodes = Json::array();
    for (const auto& r : reports) {
      Json row = {{"node", r.node}};
      for (const auto& [name, value] : RepairNumbers(r)) row[name] = value;
      row["seconds"] = r.seconds;
      out_nodes.push_back(std::move(row));
    }
    Json total_json = Json::object();
    for (const auto& [name, value] : RepairNumbers(total)) total_json[name] = value;
    total_json["seconds"] = total.seconds;
    Json failed = Json::array();
    for (const auto& [node, why] : failures) failed.push_back({{"node", node}, {"error", why}});
    cli::PrintJson({{"nodes", out_nodes}, {"total", total_json}, {"failed", failed}});
  } else {
    Table table({{"NODE"},
                 {"RANGES", Table::Align::kRight},
                 {"DIFFERING", Table::Align::kRight},
                 {"KEYS MOVED", Table::Align::kRight},
                 {"HASHES", Table::Align::kRight},
                 {"PEERS SKIPPED", Table::Align::kRight},
                 {"PURGED", Table::Align::kRight},
                 {"TIME", Table::Align::kRight}});
    const auto add = [&](const std::string& name, const diststore::wire::RepairReport& r) {
      std::vector<std::string> cells = {name};
      for (const auto& entry : RepairNumbers(r)) cells.push_back(std::to_string(entry.second));
      cells.push_back(FormatSeconds(r.seconds));
      table.add(std::move(cells));
    };
    for (const auto& r : reports) add(r.node, r);
    if (reports.size() > 1) add("total", total);
    table.print(std::cout);
    std::cout << "ranges compared: " << total.ranges_compared
              << ", differing: " << total.ranges_differing
              << ", keys moved: " << total.keys_moved << "\n";
    for (const auto& [node, why] : failures) {
      std::cerr << "storectl: repair on " << node << " failed: " << why << "\n";
    }
  }
  return failures.empty() ? 0 : 1;
}

// The cluster key a peer proves (the calls that change membership or what reads count are
// node-to-node): --cluster-key-file, else the development key (loopback clusters only).
std::shared_ptr<const membership::KeyRing> ClusterKeys(const std::string& key_file) {
  return std::make_shared<const membership::KeyRing>(
      key_file.empty() ? membership::KeyRing::DevelopmentKey()
                       : membership::KeyRing::FromFile(key_file));
}

// Runs an operator command's node-to-node call (`run` prints what it did): 0, or 1 with the
// node's refusal on stderr (a StoreError in its words; Unauthorized with the flag to give).
template <typename Run>
int OperatorCall(const char* command, Run&& run) {
  try {
    run();
    return 0;
  } catch (const diststore::wire::StoreError& e) {
    std::cerr << "storectl: " << command << " refused: " << e.message << "\n";
  } catch (const locator::wire::Unauthorized& e) {
    std::cerr << "storectl: " << command << " refused: " << e.message
              << " (give the cluster's --cluster-key-file)\n";
  }
  return 1;
}

int RemoveNodeCmd(const locator::wire::Location& entry, const std::string& target,
                  rpc::ConnectionPool<diststore::wire::StoreClient>& pool) {
  locator::wire::Location node;
  try {
    node = rpc::ParseLocation(target);
  } catch (const std::exception& e) {
    cli::Fail(2, "removenode: " + std::string(e.what()));
  }
  return OperatorCall("removenode", [&] {
    int32_t told = 0;
    pool.call(entry, [&](diststore::wire::StoreClient& c) { told = c.remove_node(node); });
    if (flags.json) {
      cli::PrintJson({{"removed", rpc::ToString(node)}, {"via", rpc::ToString(entry)},
                      {"members_told", told}});
    } else {
      std::cout << "removed " << rpc::ToString(node) << " for good (via " << rpc::ToString(entry)
                << ", " << told << " other members told); its ranges move to the next nodes\n";
    }
  });
}

int FinishRebuildCmd(const locator::wire::Location& entry,
                     rpc::ConnectionPool<diststore::wire::StoreClient>& pool) {
  return OperatorCall("finish-rebuild", [&] {
    bool running = false;
    pool.call(entry, [&](diststore::wire::StoreClient& c) { running = c.finish_rebuild(); });
    if (flags.json) {
      cli::PrintJson({{"node", rpc::ToString(entry)}, {"rebuild_running", running}});
    } else if (running) {
      std::cout << rpc::ToString(entry)
                << ": its rebuild finishes with the live replicas it has (storectl stats: "
                   "rebuilding 0 once done)\n";
    } else {
      std::cout << rpc::ToString(entry) << " is not rebuilding; nothing changed\n";
    }
  });
}

}  // namespace

int main(int argc, char** argv) {
  cli::CommandLine command(
      "usage: storectl [--peer HOST:PORT] [--json] COMMAND\n"
      "Commands:\n"
      "  members   every member the node knows: address, state, incarnation, metadata\n"
      "  ring      each ring node's weight and share of the keys (owned, and kept with replicas)\n"
      "  status    one line per member, like nodetool status (below)\n"
      "  stats     the node's counters\n"
      "  metrics   the node's counters in Prometheus text format (--json: one object of\n"
      "            metric name -> number)\n"
      "  repair    run anti-entropy now on the --peer node, or on every ring member in turn\n"
      "            without --peer: compare each range with its other replicas, move the\n"
      "            records that differ (newest wins), then purge the tombstones every replica\n"
      "            has (--gc-grace-s); prints per node the ranges compared, the ranges that\n"
      "            differed, the keys moved, the tree hashes exchanged, the peers skipped and the\n"
      "            tombstones purged, and their total (exit 1 if a node failed; waits up to\n"
      "            --repair-timeout-s per node)\n"
      "  removenode HOST:PORT  forget a DEAD member for good (as Cassandra's removenode): it\n"
      "            leaves every ring and its ranges move to the next nodes, which take them\n"
      "            from the remaining replicas by handoff. Refused for a member that is not\n"
      "            DEAD in the --peer node's view (stop it first; a live node leaves cleanly\n"
      "            with SIGTERM). If the removed node comes back on its data it rejoins. Until\n"
      "            the handoff ends, a QUORUM read may miss a write whose only live copy is on\n"
      "            one old replica (storectl status: Hints, and the nodes' handoff counters).\n"
      "  finish-rebuild  let the --peer node's rebuild (after a wiped return) finish with the\n"
      "            live replicas it has: a range counts once every live other replica is level,\n"
      "            DEAD ones left out. RISK: a write acknowledged by QUORUM whose other copies\n"
      "            are only on the DEAD replicas is missing there, and QUORUM reads may miss it\n"
      "            (they are correct again once the DEAD replica returns and repair ran, or\n"
      "            after removenode of it). Prefer removenode of a node that will not return.\n"
      "  removenode and finish-rebuild are node-to-node calls: they prove the cluster key\n"
      "  (--cluster-key-file; without it the development key, enough on loopback only).\n"
      "status columns (members that left cleanly are not listed; `members` shows them):\n"
      "  --        two letters. Status, in the view of the node asked (--peer): U up (ALIVE),\n"
      "            D down (SUSPECT: the failure detector cannot reach it, it keeps its place\n"
      "            in the ring; or DEAD: out of the ring). State, as the member says: N normal,\n"
      "            J joining, L leaving (draining its keys before a clean leave, or done),\n"
      "            M moving (never: thrifty nodes keep their place); N if it does not answer\n"
      "  Load      its data's size: its data directory on disk (RocksDB), or the keys and\n"
      "            values a --memory node holds (KiB, MiB, GiB: powers of 1024)\n"
      "  Keys      live keys it stores (copies included: an exact count, a scan of its data)\n"
      "  Owns (effective)  share of the keys it keeps a copy of: with --replicas N the column\n"
      "            sums to N x 100% (estimated from --samples sample keys)\n"
      "  Host ID   who it is (kept in its data dir), from its member metadata\n"
      "  Uptime    since it started (3d4h, 12m5s)\n"
      "  Version   the thrifty version it runs\n"
      "  Zone      its member metadata's zone, - without one\n"
      "  Hints     hints it keeps for replicas that missed writes, not yet delivered\n"
      "  ? the member did not answer (every member in the ring is asked, in parallel, within\n"
      "  --timeout-ms); - it answered without this number (e.g. a bare locator).\n"
      "  With --json: an array of one object per member with the raw values (bytes, seconds,\n"
      "  fractions; null for ? and -), the member state and its phase.\n"
      "Works against storeserver and bare locator nodes (give --peer for the latter).\n"
      "--json prints one line of JSON; strings are UTF-8, and bytes of a metadata value that are\n"
      "not valid UTF-8 are each replaced by U+FFFD.");
  cli::ClientFlags client_flags(command);
  command.flag("--json", flags.json, "print JSON instead of a table");
  command.option("--samples", flags.samples, "sample keys used to estimate ring ownership");
  std::string cluster_key_file;
  command.option("--cluster-key-file", cluster_key_file,
                 "the cluster key (hex keys, one per line), for removenode and finish-rebuild");
  int repair_timeout_s = 3600;
  command.option("--repair-timeout-s", repair_timeout_s, "how long repair waits for each node");
  const auto args = command.parse(argc, argv);
  const bool takes_node = !args.empty() && args[0] == "removenode";
  if (args.size() != (takes_node ? 2u : 1u)) {
    cli::Fail(2, takes_node ? "removenode takes one HOST:PORT (see --help)"
                            : "expected one COMMAND (see --help)");
  }
  cli::InitClientLogging(argv[0]);
  if (flags.samples < 1 || flags.samples > 10000000) cli::Fail(2, "--samples must be in 1..10000000");
  if (repair_timeout_s < 1 || repair_timeout_s > 86400) {
    cli::Fail(2, "--repair-timeout-s must be in 1..86400");
  }
  rpc::PoolOptions pool;
  pool.call_timeout_ms = client_flags.TimeoutMs();
  pool.tls = client_flags.Tls();
  Admin admin{client_flags.EntryNode(), rpc::ConnectionPool<diststore::wire::StoreClient>(pool)};
  try {
    const std::string& cmd = args[0];
    if (cmd == "members") return Members(admin);
    if (cmd == "ring") return RingCmd(admin);
    if (cmd == "status") return Status(admin);
    if (cmd == "stats") return StatsCmd(admin, false);
    if (cmd == "metrics") return StatsCmd(admin, true);
    if (cmd == "repair") return RepairCmd(admin, client_flags.peer_given(), repair_timeout_s * 1000);
    if (cmd == "removenode" || cmd == "finish-rebuild") {
      const locator::PeerAuth auth(ClusterKeys(cluster_key_file));
      rpc::ConnectionPool<diststore::wire::StoreClient> peer_pool(auth.pool_options(pool));
      return cmd == "removenode" ? RemoveNodeCmd(admin.entry, args[1], peer_pool)
                                 : FinishRebuildCmd(admin.entry, peer_pool);
    }
    cli::Fail(2, "unknown command '" + cmd + "' (see --help)");
  } catch (const std::exception& e) {
    cli::Fail(2, client_flags.Explain(std::string("cannot reach ") + rpc::ToString(admin.entry) + ": " +
                                      e.what()));
  }
}
