// Prints the SWIM simulation numbers of docs/BENCHMARKS.md ("Membership (SWIM simulation)").
// Usage: swim_sim_report [N...]   (default: 10 50 200)
#include <glog/logging.h>

#include <cstdio>
#include <cstdlib>
#include <vector>

#include "tests/membership/sim/sim_scenarios.h"

int main(int argc, char** argv) {
  FLAGS_minloglevel = 2;  // the simulated members' state changes are not the point here
  std::vector<size_t> sizes;
  for (int i = 1; i < argc; ++i) sizes.push_back(static_cast<size_t>(std::atoi(argv[i])));
  if (sizes.empty()) sizes = {10, 50, 200};
  std::printf("| N | packets sent / member / period | bytes sent / member / s | "
              "packets / member / period while detecting | crash -> first DEAD | "
              "crash -> last DEAD | bound from config | false DEADs |\n");
  std::printf("|---|---|---|---|---|---|---|---|\n");
  for (size_t n : sizes) {
    const auto r = thrifty::membership::sim::MeasureScale(n, /*seed=*/42);
    std::printf("| %zu | %.2f | %.0f | %.2f | %.1f s | %.1f s | %.0f s | %lld |\n", r.n,
                r.packets_per_member_per_period, r.bytes_per_member_per_second,
                r.packets_per_member_per_period_crash, r.first_dead_s, r.last_dead_s,
                static_cast<double>(r.bound_ms) / 1000.0, static_cast<long long>(r.false_deaths));
    std::fflush(stdout);
  }
  std::printf("\n| N | packet loss | simulated time | probes | failed probes | suspicions | "
              "refutations | false DEADs | max awareness |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|\n");
  for (size_t n : sizes) {
    const auto r = thrifty::membership::sim::MeasureLoss(n, 0.10, 600, /*seed=*/42);
    std::printf("| %zu | %.0f%% | %lld min | %lld | %lld | %lld | %lld | %lld | %d |\n", r.n,
                r.loss * 100, static_cast<long long>(r.seconds / 60),
                static_cast<long long>(r.probes), static_cast<long long>(r.probe_failures),
                static_cast<long long>(r.suspicions), static_cast<long long>(r.refutations),
                static_cast<long long>(r.deaths), r.max_awareness);
    std::fflush(stdout);
  }
  std::printf("\n| N | partition: halves hold each other DEAD after | healed: all ALIVE after |\n");
  std::printf("|---|---|---|\n");
  for (size_t n : sizes) {
    const auto r = thrifty::membership::sim::MeasurePartition(n, /*seed=*/42);
    std::printf("| %zu | %.1f s | %.1f s |\n", r.n, r.declared_dead_s, r.converged_s);
    std::fflush(stdout);
  }
  return 0;
}
