// Measurements shared by the simulation tests and the report program (swim_sim_report).
#pragma once

#include <cstdint>
#include <string>

#include "tests/membership/sim/sim_cluster.h"

namespace thrifty::membership::sim {

// Worst case for every live member to mark a crashed member DEAD, from the configuration:
// each member probes every other one within two rounds of randomized round-robin
// (2 * (N - 1) periods), judges the probe at the end of that period, and its own suspicion
// timer then runs at most the Lifeguard maximum (suspicion_max_timeout_mult times the
// minimum). Gossip from others only makes it sooner.
int64_t CrashDetectionBoundMs(const SwimConfig& config, size_t n);

struct ScaleResult {
  size_t n = 0;
  double packets_per_member_per_period = 0;   // steady state, no failures
  double bytes_per_member_per_second = 0;
  double first_dead_s = -1;                   // crash to the first member marking it DEAD
  double last_dead_s = -1;                    // ... to the last live member doing so
  double packets_per_member_per_period_crash = 0;  // while the crash is being detected
  int64_t bound_ms = 0;
  int64_t false_deaths = 0;                   // live members declared DEAD (must be 0)
};

// Runs `n` members for `steady_s` seconds, then crashes one and runs until every live member
// marked it DEAD (or the bound passes).
ScaleResult MeasureScale(size_t n, uint64_t seed, int64_t steady_s = 60);

struct LossResult {
  size_t n = 0;
  double loss = 0;
  int64_t seconds = 0;
  int64_t probes = 0;
  int64_t probe_failures = 0;   // no ACK, direct or indirect, by the end of the period
  int64_t suspicions = 0;       // members marked SUSPECT by their prober
  int64_t refutations = 0;
  int64_t deaths = 0;           // DEAD verdicts (no member crashed: all false)
  int max_awareness = 0;
};

// `n` members, no crash, each packet lost with probability `loss`, for `seconds`.
LossResult MeasureLoss(size_t n, double loss, int64_t seconds, uint64_t seed);

struct PartitionResult {
  size_t n = 0;
  double declared_dead_s = -1;  // cut to: each half holds the other DEAD
  double converged_s = -1;      // heal to: everyone ALIVE everywhere
};

// Cuts `n` members into two halves until each declares the other DEAD, then heals.
PartitionResult MeasurePartition(size_t n, uint64_t seed);

}  // namespace thrifty::membership::sim
