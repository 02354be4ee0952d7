// Nanoseconds per owner lookup for each placement scheme at 10, 100 and 1,000 nodes, and
// libmemcached's own ketama (memcached_generate_hash) on the same keys and nodes, up to the
// 100 servers libmemcached allows. The ketama runs also report vs_libmemcached: our time per
// lookup over libmemcached's, both timed back to back on the same keys.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "locator/placement/ketama.h"
#include "locator/placement/node_spec.h"
#include "locator/placement/placement.h"

#ifdef THRIFTY_BENCH_LIBMEMCACHED
#include <libmemcached/memcached.h>
#endif

namespace {

using thrifty::placement::MakePlacement;
using thrifty::placement::Placement;

constexpr size_t kKeyCount = size_t{1} << 16;  // a power of two: the loops mask, not divide

// Keys of 10 to 20 bytes, like typical cache keys.
const std::vector<std::string>& Keys() {
  static const std::vector<std::string> keys = [] {
    std::vector<std::string> out;
    out.reserve(kKeyCount);
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    for (size_t i = 0; i < kKeyCount; ++i) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      out.push_back("user:" + std::to_string(x % 100000000000ULL));
    }
    return out;
  }();
  return keys;
}

std::string Host(size_t i) {
  return "10.0." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1);
}
constexpr uint16_t kPort = 11211;

std::unique_ptr<Placement> Ring(const std::string& spec, size_t nodes) {
  auto p = MakePlacement(spec);
  for (size_t i = 0; i < nodes; ++i) p->add(thrifty::placement::HostPort{Host(i), kPort}.id());
  p->prepare();
  return p;
}

// The fastest of several passes over all keys, in ns per lookup.
template <typename Lookup>
double NsPerLookup(Lookup&& lookup) {
  const auto& keys = Keys();
  double best = 1e30;
  for (int pass = 0; pass < 5; ++pass) {
    const auto start = std::chrono::steady_clock::now();
    for (const auto& key : keys) benchmark::DoNotOptimize(lookup(key));
    const std::chrono::duration<double, std::nano> elapsed =
        std::chrono::steady_clock::now() - start;
    best = std::min(best, elapsed.count() / static_cast<double>(keys.size()));
  }
  return best;
}

#ifdef THRIFTY_BENCH_LIBMEMCACHED
// libmemcached with weighted ketama over the same nodes. Computes only; connects nowhere.
class Libmemcached {
 public:
  explicit Libmemcached(size_t nodes) : memc_(memcached_create(nullptr)) {
    memcached_behavior_set(memc_, MEMCACHED_BEHAVIOR_DISTRIBUTION,
                           MEMCACHED_DISTRIBUTION_CONSISTENT_KETAMA);
    memcached_behavior_set(memc_, MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED, 1);
    for (size_t i = 0; i < nodes; ++i) {
      memcached_server_add_with_weight(memc_, Host(i).c_str(), kPort, 1);
    }
  }
  Libmemcached(const Libmemcached&) = delete;
  Libmemcached& operator=(const Libmemcached&) = delete;
  ~Libmemcached() { memcached_free(memc_); }

  uint32_t Owner(const std::string& key) const {
    return memcached_generate_hash(memc_, key.data(), key.size());
  }

 private:
  memcached_st* memc_;
};
#endif

void BM_Owner(benchmark::State& state, const std::string& spec) {
  const size_t nodes = static_cast<size_t>(state.range(0));
  const auto placement = Ring(spec, nodes);
  const auto& keys = Keys();
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(placement->owner(keys[i++ & (kKeyCount - 1)]));
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
#ifdef THRIFTY_BENCH_LIBMEMCACHED
  if (spec == "ketama" && nodes <= 100) {
    const Libmemcached reference(nodes);
    const double theirs = NsPerLookup([&](const std::string& key) { return reference.Owner(key); });
    const double ours = NsPerLookup(
        [&](const std::string& key) -> const std::string& { return placement->owner(key); });
    state.counters["vs_libmemcached"] = ours / theirs;
  }
#endif
}

// The floor of a ketama lookup: MD5 of the key, nothing else.
void BM_KetamaKeyHash(benchmark::State& state) {
  const auto& keys = Keys();
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        thrifty::placement::KetamaPlacement::KeyHash(keys[i++ & (kKeyCount - 1)]));
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_KetamaKeyHash);

void BM_PreferenceList3(benchmark::State& state, const std::string& spec) {
  const auto placement = Ring(spec, static_cast<size_t>(state.range(0)));
  const auto& keys = Keys();
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(placement->preference_indices(keys[i++ & (kKeyCount - 1)], 3));
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

#ifdef THRIFTY_BENCH_LIBMEMCACHED
void BM_LibmemcachedKetama(benchmark::State& state) {
  const Libmemcached reference(static_cast<size_t>(state.range(0)));
  const auto& keys = Keys();
  size_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(reference.Owner(keys[i++ & (kKeyCount - 1)]));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_LibmemcachedKetama)->Arg(10)->Arg(100);
#endif

BENCHMARK_CAPTURE(BM_Owner, ketama, std::string("ketama"))->Arg(10)->Arg(100)->Arg(1000);
BENCHMARK_CAPTURE(BM_Owner, rendezvous_siphash, std::string("rendezvous/siphash"))
    ->Arg(10)
    ->Arg(100)
    ->Arg(1000);
BENCHMARK_CAPTURE(BM_Owner, rendezvous_xxh3, std::string("rendezvous/xxh3"))
    ->Arg(10)
    ->Arg(100)
    ->Arg(1000);
BENCHMARK_CAPTURE(BM_Owner, jump_xxh3, std::string("jump/xxh3"))->Arg(10)->Arg(100)->Arg(1000);
BENCHMARK_CAPTURE(BM_Owner, modulo_xxh3, std::string("modulo/xxh3"))->Arg(10)->Arg(100)->Arg(1000);
BENCHMARK_CAPTURE(BM_PreferenceList3, ketama, std::string("ketama"))->Arg(10)->Arg(100)->Arg(1000);
BENCHMARK_CAPTURE(BM_PreferenceList3, rendezvous_xxh3, std::string("rendezvous/xxh3"))
    ->Arg(10)
    ->Arg(100)
    ->Arg(1000);

}  // namespace

BENCHMARK_MAIN();
