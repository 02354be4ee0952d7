// StoreCounters: the store's request counters, shared by the parts of the service layer that
// count (router, owner store, moving keys) and exported in the node's stats. Lock-free.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <string>

namespace thrifty::diststore {

struct StoreCounters {
  std::atomic<int64_t> gets{0}, puts{0}, erases{0}, forwarded{0}, rerouted{0}, fallback_reads{0},
      not_found{0}, errors{0}, handoff_records_in{0}, versions_refused{0},
      unavailable{0}, timed_out{0}, replica_writes{0}, read_repairs{0},
      handoff_dropped_gc_grace{0};

  std::map<std::string, int64_t> snapshot() const {
    return {{"gets", gets.load()},
            {"puts", puts.load()},
            {"erases", erases.load()},
            {"forwarded", forwarded.load()},
            {"rerouted", rerouted.load()},
            {"fallback_reads", fallback_reads.load()},
            {"not_found", not_found.load()},
            {"errors", errors.load()},
            {"handoff_records_in", handoff_records_in.load()},
            {"versions_refused", versions_refused.load()},
            {"unavailable", unavailable.load()},
            {"timed_out", timed_out.load()},
            {"replica_writes", replica_writes.load()},
            {"read_repairs", read_repairs.load()},
            {"handoff_records_dropped_gc_grace", handoff_dropped_gc_grace.load()}};
  }
};

}  // namespace thrifty::diststore
