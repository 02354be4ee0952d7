#include "tests/cluster/store_checks.h"

#include <algorithm>
#include <exception>

#include <gtest/gtest.h>

#include "locator/membership/member_table.h"

namespace thrifty::testing {

using membership::MemberName;
using locator::wire::Location;

std::string Key(int i) { return "key-" + std::to_string(i); }

std::vector<std::string> KeyRange(int n, std::string (*name)(int)) {
  std::vector<std::string> keys;
  keys.reserve(n);
  for (int i = 0; i < n; ++i) keys.push_back(name(i));
  return keys;
}

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

std::unique_ptr<client::ClusterClient> RingAwareClient(Cluster& cluster, const std::vector<int>& nodes) {
  client::ClientOptions options;
  for (int i : nodes) options.seeds.push_back(cluster.location(i));
  options.ring_aware = true;
  return std::make_unique<client::ClusterClient>(options);
}

std::vector<std::string> RocksArgs(Cluster& cluster, const std::string& name) {
  return {"--data-dir=" + cluster.dir() + "/" + name};
}

std::vector<int> StartNodes(Cluster& cluster, int n, const std::vector<std::string>& extra,
                            int timeout_ms) {
  std::vector<int> live;
  for (int i = 0; i < n; ++i) {
    auto args = RocksArgs(cluster, "node" + std::to_string(cluster.size()));
    args.insert(args.end(), extra.begin(), extra.end());
    const int node = cluster.start(args);
    if (node < 0) return {};
    live.push_back(node);
  }
  if (!WaitFor([&] { return RingsAre(cluster, live, live); }, timeout_ms)) {
    ADD_FAILURE() << "the " << n << " nodes did not agree on the ring within "
                  << timeout_ms / 1000 << " s";
    return {};
  }
  return live;
}

std::set<std::string> RingOf(Cluster& cluster, int i) {
  std::vector<Location> all;
  cluster.pool().call(cluster.location(i), [&](diststore::wire::StoreClient& c) { c.get_all(all); });
  std::set<std::string> names;
  for (const auto& l : all) names.insert(MemberName(l));
  return names;
}

bool RingsAre(Cluster& cluster, const std::vector<int>& asked, const std::vector<int>& expected) {
  std::set<std::string> names;
  for (int i : expected) names.insert(MemberName(cluster.location(i)));
  for (int i : asked) {
    try {
      if (RingOf(cluster, i) != names) return false;
    } catch (const std::exception&) {
      return false;
    }
  }
  return true;
}

std::map<int, locator::wire::MemberState::type> StatesSeenBy(Cluster& cluster, int i) {
  locator::wire::View view;
  cluster.pool().call(cluster.location(i), [&](diststore::wire::StoreClient& c) { c.get_view(view); });
  std::map<int, locator::wire::MemberState::type> out;
  for (const auto& m : view.members) {
    for (int n = 0; n < cluster.size(); ++n) {
      if (membership::MemberName(cluster.location(n)) == membership::MemberName(m.location)) {
        out[n] = m.state;
      }
    }
  }
  return out;
}

std::map<std::string, int64_t> Stats(Cluster& cluster, int i) {
  std::map<std::string, int64_t> out;
  cluster.pool().call(cluster.location(i), [&](diststore::wire::StoreClient& c) { c.stats(out); });
  return out;
}

int64_t KeysOn(Cluster& cluster, int i) { return Stats(cluster, i).at("keys"); }

int64_t SumOfStat(Cluster& cluster, const std::vector<int>& nodes, const std::string& name) {
  int64_t sum = 0;
  for (int i : nodes) sum += Stats(cluster, i).at(name);
  return sum;
}

int64_t SumOfKeys(Cluster& cluster, const std::vector<int>& live) {
  return SumOfStat(cluster, live, "keys");
}

std::shared_ptr<const locator::Ring> RingFromView(Cluster& cluster, int i) {
  locator::wire::View view;
  cluster.pool().call(cluster.location(i), [&](diststore::wire::StoreClient& c) { c.get_view(view); });
  return std::make_shared<const locator::Ring>(membership::InRingMembers(view.members),
                                              view.placement);
}

std::map<std::string, diststore::wire::Record> Held(Cluster& cluster, int i, const std::vector<std::string>& keys) {
  std::map<std::string, diststore::wire::Record> out;
  for (size_t from = 0; from < keys.size(); from += 5000) {
    std::vector<std::string> part(keys.begin() + from,
                                  keys.begin() + std::min(keys.size(), from + 5000));
    std::vector<diststore::wire::Record> records;
    cluster.pool().call(cluster.location(i),
                        [&](diststore::wire::StoreClient& c) { c.owner_get(records, part, false); });
    for (auto& r : records) out[r.key] = std::move(r);
  }
  return out;
}

std::map<std::string, std::string> ReadThrough(Cluster& cluster, int i,
                                               const std::vector<std::string>& keys) {
  constexpr size_t kReadBatch = 2000;
  std::map<std::string, std::string> out;
  for (size_t from = 0; from < keys.size(); from += kReadBatch) {
    std::vector<std::string> part(keys.begin() + from,
                                  keys.begin() + std::min(keys.size(), from + kReadBatch));
    std::map<std::string, std::string> got;
    cluster.pool().call(cluster.location(i), [&](diststore::wire::StoreClient& c) { c.multi_get(got, part, diststore::wire::Consistency::DEFAULT); });
    out.insert(got.begin(), got.end());
  }
  return out;
}

Layout Inspect(Cluster& cluster, const std::vector<int>& live, const std::vector<std::string>& keys) {
  Layout layout;
  auto ring = RingFromView(cluster, live.front());
  std::map<std::string, int> copies;
  for (int i : live) {
    const std::string name = MemberName(cluster.location(i));
    for (const auto& [key, record] : Held(cluster, i, keys)) {
      ++layout.held[i];
      ++copies[key];
      if (MemberName(ring->owner(key)) != name) {
        ++layout.misplaced;
        if (layout.example.empty()) layout.example = key + " on " + name;
      }
    }
  }
  for (const auto& key : keys) {
    auto it = copies.find(key);
    if (it == copies.end()) {
      ++layout.absent;
    } else if (it->second > 1) {
      ++layout.duplicated;
      if (layout.example.empty()) layout.example = key + " stored twice";
    }
  }
  return layout;
}

bool Settled(Cluster& cluster, const std::vector<int>& live, const std::vector<std::string>& keys,
             int64_t live_keys) {
  try {
    if (!RingsAre(cluster, live, live)) return false;
    const Layout layout = Inspect(cluster, live, keys);
    return layout.misplaced == 0 && layout.duplicated == 0 && layout.absent == 0 &&
           SumOfKeys(cluster, live) == live_keys;
  } catch (const std::exception&) {
    return false;
  }
}

void PutAtLevel(Cluster& cluster, int via, const std::string& key, const std::string& value,
                diststore::wire::Consistency::type level) {
  cluster.client_pool().call(cluster.location(via),
                             [&](diststore::wire::StoreClient& c) { c.put(key, value, level); });
}

std::string GetAtLevel(Cluster& cluster, int via, const std::string& key,
                       diststore::wire::Consistency::type level) {
  std::string value;
  cluster.client_pool().call(cluster.location(via),
                             [&](diststore::wire::StoreClient& c) { c.get(value, key, level); });
  return value;
}

}  // namespace thrifty::testing
