#include "locator/membership/swim_config.h"

#include <algorithm>
#include <cmath>

namespace thrifty::membership {

namespace {

std::string Bad(const char* field, const std::string& why) {
  return std::string("swim config: ") + field + " " + why;
}

}  // namespace

std::string SwimConfig::validate() const {
  if (probe_interval_ms <= 0) return Bad("probe_interval_ms", "must be > 0");
  if (probe_timeout_ms <= 0) return Bad("probe_timeout_ms", "must be > 0");
  if (probe_timeout_ms >= probe_interval_ms) {
    return Bad("probe_timeout_ms", "must be shorter than probe_interval_ms (" +
                                       std::to_string(probe_interval_ms) +
                                       ") to leave time for indirect probes");
  }
  if (indirect_checks < 0 || indirect_checks > 16) return Bad("indirect_checks", "must be in [0, 16]");
  if (suspicion_mult < 1) return Bad("suspicion_mult", "must be >= 1");
  if (suspicion_max_timeout_mult < 1) return Bad("suspicion_max_timeout_mult", "must be >= 1");
  if (retransmit_mult < 1) return Bad("retransmit_mult", "must be >= 1");
  // Below ~200 bytes a packet cannot carry a header plus one member update.
  if (packet_size_limit < 256 || packet_size_limit > 65507) {
    return Bad("packet_size_limit", "must be in [256, 65507] (a UDP payload)");
  }
  if (max_string_size < 64) return Bad("max_string_size", "must be >= 64");
  if (max_container_size < 16) return Bad("max_container_size", "must be >= 16");
  if (push_pull_interval_ms < 0) return Bad("push_pull_interval_ms", "must be >= 0 (0: never)");
  if (dead_push_pull_interval_ms < 0) {
    return Bad("dead_push_pull_interval_ms", "must be >= 0 (0: never)");
  }
  if (awareness_max_multiplier < 1) return Bad("awareness_max_multiplier", "must be >= 1");
  if (dead_reap_age_ms <= 0) return Bad("dead_reap_age_ms", "must be > 0");
  if (stale_packet_window_ms <= 0) return Bad("stale_packet_window_ms", "must be > 0");
  if (replay_guard_capacity < 1024) {
    return Bad("replay_guard_capacity", "must be >= 1024 (a busy member's packets of one window)");
  }
  if (nack_timeout_percent < 1 || nack_timeout_percent > 100) {
    return Bad("nack_timeout_percent", "must be in [1, 100]");
  }
  if (leave_fanout < 0) return Bad("leave_fanout", "must be >= 0");
  return "";
}

int64_t SuspicionMinTimeoutMs(int suspicion_mult, size_t cluster_size, int64_t probe_interval_ms) {
  const double n = std::max<double>(1.0, static_cast<double>(cluster_size));
  const double node_scale = std::max(1.0, std::log10(n));
  // Like memberlist: keep three decimals of the scale before multiplying.
  const auto scale_milli = static_cast<int64_t>(node_scale * 1000.0);
  return suspicion_mult * scale_milli * probe_interval_ms / 1000;
}

int RetransmitLimit(int retransmit_mult, size_t cluster_size) {
  const double scale = std::ceil(std::log10(static_cast<double>(cluster_size) + 1.0));
  return std::max(1, retransmit_mult * static_cast<int>(scale));
}

}  // namespace thrifty::membership
