#include "tests/membership/sim/sim_scenarios.h"

#include <algorithm>

namespace thrifty::membership::sim {

int64_t CrashDetectionBoundMs(const SwimConfig& config, size_t n) {
  const int64_t rounds = 2 * static_cast<int64_t>(n > 1 ? n - 1 : 1) * config.probe_interval_ms;
  const int64_t judged = config.probe_interval_ms;
  const int64_t suspicion = config.suspicion_max_timeout_mult *
                            SuspicionMinTimeoutMs(config.suspicion_mult, n, config.probe_interval_ms);
  return rounds + judged + suspicion;
}

ScaleResult MeasureScale(size_t n, uint64_t seed, int64_t steady_s) {
  SimOptions options;
  options.nodes = n;
  options.seed = seed;
  SimCluster cluster(options);
  ScaleResult result;
  result.n = n;
  result.bound_ms = CrashDetectionBoundMs(options.config, n);
  const double period_s = static_cast<double>(options.config.probe_interval_ms) / 1000.0;

  // Let the start-up news (every member's own record) settle, then measure.
  cluster.run_for(10'000);
  const int64_t packets0 = cluster.total("swim_packets_sent");
  const int64_t bytes0 = cluster.total("swim_bytes_sent");
  cluster.run_for(steady_s * 1000);
  const double periods = static_cast<double>(steady_s) / period_s;
  result.packets_per_member_per_period =
      static_cast<double>(cluster.total("swim_packets_sent") - packets0) / (n * periods);
  result.bytes_per_member_per_second =
      static_cast<double>(cluster.total("swim_bytes_sent") - bytes0) / (n * steady_s);

  const size_t victim = n / 2;
  const int64_t crash_at = cluster.now();
  const int64_t packets1 = cluster.total("swim_packets_sent");
  cluster.crash(victim);
  const auto all_dead = [&] {
    for (size_t i = 0; i < n; ++i) {
      if (i == victim) continue;
      if (cluster.view(i, victim) != MemberState::DEAD) return false;
    }
    return true;
  };
  cluster.run_until(all_dead, result.bound_ms + 1000);
  const double detect_periods = static_cast<double>(cluster.now() - crash_at) / 1000.0 / period_s;
  result.packets_per_member_per_period_crash =
      detect_periods > 0 ? static_cast<double>(cluster.total("swim_packets_sent") - packets1) /
                               ((n - 1) * detect_periods)
                         : 0;
  int64_t first = -1;
  int64_t last = -1;
  size_t marked = 0;
  for (const auto& o : cluster.observations()) {
    if (o.state != MemberState::DEAD) continue;
    if (o.subject != cluster.name(victim)) {
      ++result.false_deaths;
      continue;
    }
    if (first < 0) first = o.time_ms - crash_at;
    last = o.time_ms - crash_at;
    ++marked;
  }
  if (marked == n - 1) {
    result.first_dead_s = static_cast<double>(first) / 1000.0;
    result.last_dead_s = static_cast<double>(last) / 1000.0;
  }
  return result;
}

LossResult MeasureLoss(size_t n, double loss, int64_t seconds, uint64_t seed) {
  SimOptions options;
  options.nodes = n;
  options.seed = seed;
  options.loss = loss;
  SimCluster cluster(options);
  cluster.run_for(seconds * 1000);
  LossResult r;
  r.n = n;
  r.loss = loss;
  r.seconds = seconds;
  r.probes = cluster.total("swim_probes");
  r.probe_failures = cluster.total("swim_probe_failures");
  r.suspicions = cluster.total("swim_suspicions");
  r.refutations = cluster.total("swim_refutations");
  for (const auto& o : cluster.observations()) {
    if (o.state == MemberState::DEAD) ++r.deaths;
  }
  for (size_t i = 0; i < n; ++i) r.max_awareness = std::max(r.max_awareness, cluster.detector(i).awareness());
  return r;
}

namespace {

bool AllSee(SimCluster& c, MemberState::type state, size_t from_a, size_t to_a, size_t from_b,
            size_t to_b) {
  for (size_t i = from_a; i < to_a; ++i) {
    for (size_t j = from_b; j < to_b; ++j) {
      if (i != j && c.view(i, j) != state) return false;
    }
  }
  return true;
}

}  // namespace

PartitionResult MeasurePartition(size_t n, uint64_t seed) {
  SimOptions options;
  options.nodes = n;
  options.seed = seed;
  SimCluster cluster(options);
  PartitionResult r;
  r.n = n;
  const size_t half = n / 2;
  cluster.run_for(5'000);
  cluster.partition([half](size_t i) { return i < half ? 1 : 2; });
  int64_t start = cluster.now();
  if (!cluster.run_until(
          [&] {
            return AllSee(cluster, MemberState::DEAD, 0, half, half, n) &&
                   AllSee(cluster, MemberState::DEAD, half, n, 0, half);
          },
          CrashDetectionBoundMs(options.config, n))) {
    return r;
  }
  r.declared_dead_s = static_cast<double>(cluster.now() - start) / 1000.0;
  cluster.heal();
  start = cluster.now();
  if (cluster.run_until([&] { return AllSee(cluster, MemberState::ALIVE, 0, n, 0, n); },
                        10 * 60 * 1000)) {
    r.converged_s = static_cast<double>(cluster.now() - start) / 1000.0;
  }
  return r;
}

}  // namespace thrifty::membership::sim
