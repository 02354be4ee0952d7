// KetamaPlacement against libmemcached itself: the same server for every key, over server
// lists of many sizes, ports (memcached's default and others) and weights. libmemcached only
// computes here; nothing connects anywhere.
#include <libmemcached/memcached.h>

#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "locator/placement/ketama.h"
#include "locator/placement/node_spec.h"

namespace thrifty::placement {
namespace {

struct Server {
  std::string host;
  uint16_t port;
  uint32_t weight;
};

// libmemcached's weighted ketama over `servers`, in list order.
class Libmemcached {
 public:
  explicit Libmemcached(const std::vector<Server>& servers) : memc_(memcached_create(nullptr)) {
    EXPECT_NE(memc_.get(), nullptr);
    EXPECT_EQ(memcached_behavior_set(memc_.get(), MEMCACHED_BEHAVIOR_DISTRIBUTION,
                                     MEMCACHED_DISTRIBUTION_CONSISTENT_KETAMA),
              MEMCACHED_SUCCESS);
    EXPECT_EQ(memcached_behavior_set(memc_.get(), MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED, 1),
              MEMCACHED_SUCCESS);
    for (const Server& s : servers) {
      EXPECT_EQ(memcached_server_add_with_weight(memc_.get(), s.host.c_str(), s.port, s.weight),
                MEMCACHED_SUCCESS);
    }
  }

  std::string Owner(const std::string& key) const {
    const uint32_t index = memcached_generate_hash(memc_.get(), key.data(), key.size());
    const memcached_instance_st* instance =
        memcached_server_instance_by_position(memc_.get(), index);
    return HostPort{memcached_server_name(instance), memcached_server_port(instance)}.id();
  }

 private:
  struct Free {
    void operator()(memcached_st* m) const { memcached_free(m); }
  };
  std::unique_ptr<memcached_st, Free> memc_;
};

std::vector<Server> Servers(size_t n, uint16_t base_port, bool mixed_ports,
                            const std::vector<uint32_t>& weights) {
  std::vector<Server> out;
  for (size_t i = 0; i < n; ++i) {
    const std::string host =
        i % 4 == 3 ? "cache" + std::to_string(i) + ".example.org"
                   : "10.2." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1);
    uint16_t port = base_port;
    if (mixed_ports) port = static_cast<uint16_t>(i % 2 == 0 ? 11211 : base_port + i);
    out.push_back({host, port, weights.empty() ? 1 : weights[i % weights.size()]});
  }
  return out;
}

// Checks `keys` keys, different for every call; returns the number checked.
size_t ExpectSameOwners(const std::vector<Server>& servers, size_t keys, const std::string& what) {
  const Libmemcached reference(servers);
  KetamaPlacement ours;
  for (const Server& s : servers) ours.add(HostPort{s.host, s.port}.id(), s.weight);
  size_t mismatches = 0;
  for (size_t i = 0; i < keys; ++i) {
    const std::string key = what + ":" + std::to_string(i * 2654435761u % 1000003) + "/" +
                            std::string(i % 23, static_cast<char>('a' + i % 26));
    const std::string expected = reference.Owner(key);
    if (ours.owner(key) != expected && ++mismatches <= 5) {
      ADD_FAILURE() << what << ": key '" << key << "': libmemcached " << expected << ", ours "
                    << ours.owner(key);
    }
  }
  EXPECT_EQ(mismatches, 0u) << what;
  return keys;
}

TEST(KetamaVsLibmemcached, SameServerForEveryKey) {
  struct Case {
    size_t servers;
    uint16_t port;
    bool mixed_ports;
    std::vector<uint32_t> weights;
  };
  const std::vector<Case> cases = {
      {1, 11211, false, {}},
      {2, 11211, false, {}},
      {3, 7000, false, {}},
      {3, 11211, true, {1, 2, 3}},
      {10, 11211, false, {}},
      {10, 20000, true, {1, 1, 2, 2, 3, 1, 2, 1, 4, 3}},
      {25, 11211, false, {}},  // float rounding: 156 points per server, as at 47, 50, ...
      {47, 6379, true, {}},
      {50, 11211, true, {}},
      {50, 9000, false, {5, 1, 1, 10}},
      {51, 11211, false, {}},
      {100, 11211, true, {}},
      {100, 30000, true, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 100}},
  };
  size_t checked = 0;
  for (const Case& c : cases) {
    const std::string what = std::to_string(c.servers) + " servers, port " +
                             std::to_string(c.port) + (c.mixed_ports ? " mixed" : "") +
                             (c.weights.empty() ? "" : " weighted");
    checked += ExpectSameOwners(Servers(c.servers, c.port, c.mixed_ports, c.weights), 20000, what);
  }
  EXPECT_GE(checked, 100000u);
}

TEST(KetamaVsLibmemcached, HundredThousandKeysOnOneRing) {
  ExpectSameOwners(Servers(10, 11211, true, {1, 3}), 100000, "big");
}

}  // namespace
}  // namespace thrifty::placement
