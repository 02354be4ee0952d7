// StoreMetrics: what a store node's /metrics page says, in the Prometheus text format.
//
// The numbers are the node's stats (StoreNode::stats, what `storectl stats` shows): nothing is
// counted twice. This file says what each stat is -- a counter (thrifty_..._total), a gauge, or
// a setting (a label of the one thrifty_config info metric) -- and adds the latency histograms
// of StoreLatency. A stat this table does not know yet is still exported, as untyped with a
// HELP saying so (UnclassifiedStats lists them; a unit test keeps that list empty).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "diststore/ops/store_latency.h"
#include "locator/metrics/prometheus_text.h"

namespace thrifty::diststore {

struct StoreMetricsInput {
  std::map<std::string, int64_t> stats;  // the node's stats
  const StoreLatency* latency = nullptr;  // null: no histograms
  metrics::Labels settings;               // more thrifty_config labels (placement, engine, ...)
  metrics::Labels node;                   // thrifty_node_info labels (address, host ID)
  std::string version;                    // thrifty_build_info{version}
  bool serving = false;                   // thrifty_serving: what /health says
  double start_time_seconds = 0;          // process_start_time_seconds (Unix time)
};

// The whole page. Throws std::logic_error if the stats' version numbers (version_major, _minor,
// _patch) disagree with input.version: thrifty_build_info says them, once.
std::string StoreMetricsText(const StoreMetricsInput& input);

// Stats that are settings rather than measurements (they become thrifty_config labels).
bool IsSettingStat(const std::string& name);
// The stats' version numbers as "MAJOR.MINOR.PATCH", or "" if one of them is missing.
std::string VersionFromStats(const std::map<std::string, int64_t>& stats);
// The stats in `stats` that are neither classified, nor settings, nor the version's numbers.
std::vector<std::string> UnclassifiedStats(const std::map<std::string, int64_t>& stats);

}  // namespace thrifty::diststore
