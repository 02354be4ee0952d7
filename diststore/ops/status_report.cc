#include "diststore/ops/status_report.h"

#include <chrono>
#include <future>
#include <vector>

#include "diststore/service/durability.h"
#include "diststore/service/moving_keys.h"
#include "diststore/service/store_node.h"
#include "locator/membership/member_table.h"
#include "locator/rpc/address.h"

namespace thrifty::diststore {

namespace {

int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool InRing(const locator::wire::Member& m) {
  return m.state == locator::wire::MemberState::ALIVE || m.state == locator::wire::MemberState::SUSPECT;
}

int64_t Stat(const std::map<std::string, int64_t>& stats, const char* name) {
  const auto it = stats.find(name);
  return it == stats.end() ? -1 : it->second;
}

}  // namespace

StatusReport::StatusReport(StoreNode& store, StatusReportOptions options)
    : store_(store), options_(options) {}

void StatusReport::poll() {
  const auto snapshot = store_.node().snapshot();
  const std::string self = snapshot->self_name();
  struct Asked {
    std::string name;
    std::future<std::map<std::string, int64_t>> stats;
  };
  std::vector<Asked> asked;
  for (const locator::wire::Member& m : snapshot->members()) {
    const std::string name = membership::MemberName(m.location);
    if (!InRing(m) || name == self) continue;
    const locator::wire::Location where = m.location;
    auto& pool = store_.node().peers();
    asked.push_back({name, store_.node().fan_out().submit([&pool, where] {
                       std::map<std::string, int64_t> out;
                       pool.call(where, [&out](locator::wire::LocatorClient& c) { c.stats(out); });
                       return out;
                     })});
  }
  const int64_t now = SteadyMs();
  auto record = [&](const std::string& name, const std::map<std::string, int64_t>& stats) {
    Sample& s = samples_[name];
    const int64_t operations =
        Stat(stats, "gets") < 0 ? -1
                                : Stat(stats, "gets") + Stat(stats, "puts") + Stat(stats, "erases");
    if (s.key_operations >= 0 && operations >= s.key_operations && now > s.at_ms) {
      s.rate = static_cast<double>(operations - s.key_operations) * 1000.0 /
               static_cast<double>(now - s.at_ms);
    } else {
      s.rate = -1;  // first poll, or the member restarted
    }
    s.keys = Stat(stats, "keys");
    s.key_operations = operations;
    s.at_ms = now;
    s.stale = false;
  };
  record(self, store_.stats());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.wait_ms);
  for (Asked& a : asked) {
    if (a.stats.wait_until(deadline) == std::future_status::ready) {
      try {
        record(a.name, a.stats.get());
        continue;
      } catch (const std::exception&) {
      }
    }
    samples_[a.name].stale = true;  // an unfinished call goes on without us, bounded by the pool
  }
  last_poll_ms_ = now;
}

const RingPicture& StatusReport::picture(const std::shared_ptr<const locator::Ring>& ring) {
  if (ring != pictured_) {
    picture_ = DrawRing(*ring);
    pictured_ = ring;
  }
  return picture_;
}

nlohmann::json StatusReport::build(const std::string& health, const std::string& version) {
  std::lock_guard<std::mutex> lock(mu_);
  if (last_poll_ms_ < 0 || SteadyMs() - last_poll_ms_ >= options_.min_interval_ms) poll();
  const auto snapshot = store_.node().snapshot();
  const RingPicture& ring = picture(snapshot->ring());
  std::map<std::string, double> shares;
  for (size_t i = 0; i < ring.nodes.size(); ++i) shares[ring.nodes[i]] = ring.shares[i];

  nlohmann::json members = nlohmann::json::array();
  std::vector<locator::wire::Member> sorted = snapshot->members();
  std::sort(sorted.begin(), sorted.end(), [](const locator::wire::Member& a, const locator::wire::Member& b) {
    return membership::MemberName(a.location) < membership::MemberName(b.location);
  });
  for (const locator::wire::Member& m : sorted) {
    const std::string name = membership::MemberName(m.location);
    nlohmann::json member = {{"address", rpc::ToString(m.location)},
                             {"state", membership::StateName(m.state)},
                             {"self", name == snapshot->self_name()},
                             {"in_ring", InRing(m)},
                             {"weight", locator::MemberWeight(m)},
                             {"share", shares.count(name) ? shares[name] : 0.0}};
    const auto zone = m.metadata.find("zone");
    member["zone"] = zone == m.metadata.end() ? nlohmann::json(nullptr) : nlohmann::json(zone->second);
    const auto host = m.metadata.find(kHostIdKey);
    member["host_id"] = host == m.metadata.end() ? "" : host->second;
    const auto sample = samples_.find(name);
    if (InRing(m) && sample != samples_.end()) {
      const Sample& s = sample->second;
      member["keys"] = s.keys >= 0 ? nlohmann::json(s.keys) : nlohmann::json(nullptr);
      member["key_operations"] = s.key_operations >= 0 ? nlohmann::json(s.key_operations) : nlohmann::json(nullptr);
      member["key_operations_per_second"] =
          s.rate >= 0 ? nlohmann::json(s.rate) : nlohmann::json(nullptr);
      member["stale"] = s.stale;
    } else {
      member["keys"] = nullptr;
      member["key_operations"] = nullptr;
      member["key_operations_per_second"] = nullptr;
      member["stale"] = true;
    }
    members.push_back(std::move(member));
  }

  nlohmann::json arcs = nlohmann::json::array();
  for (const RingArc& arc : ring.arcs) arcs.push_back({arc.node, arc.start, arc.end});
  return {{"self", rpc::ToString(store_.node().self_location())},
          {"health", health},
          {"version", version},
          {"engine", store_.describe_engine()},
          {"placement", snapshot->ring()->placement_spec()},
          {"generation", snapshot->generation()},
          {"time_ms", WallMs()},
          {"poll_interval_ms", options_.min_interval_ms},
          {"members", members},
          {"ring", {{"exact", ring.exact}, {"nodes", ring.nodes}, {"arcs", arcs}}}};
}

}  // namespace thrifty::diststore
