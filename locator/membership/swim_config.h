// SwimConfig: every tunable of the SWIM failure detector in one place, with the defaults of
// memberlist's LAN profile (SWIM with the Lifeguard extensions).
//
// The derived quantities (suspicion timeouts, retransmit limits) are computed by the
// functions below from the configured multipliers and the live cluster size, so that the
// protocol scales as O(log N) without retuning.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace thrifty::membership {

struct SwimConfig {
  // One member is probed per interval. Detection time and background traffic both scale
  // with it: every member sends about one PING and one ACK per interval.
  int64_t probe_interval_ms = 1000;

  // How long to wait for the direct ACK before asking others (PING_REQ). Must leave room
  // for the indirect round trip within the interval.
  int64_t probe_timeout_ms = 500;

  // Members asked to probe on our behalf when the direct probe times out. More helpers make
  // a false suspicion from one lossy path less likely, at k*4 packets per failed probe.
  int indirect_checks = 3;

  // Minimum suspicion timeout = suspicion_mult * max(1, log10(N)) * probe_interval: long
  // enough for the suspected member to hear the news and refute it through gossip.
  int suspicion_mult = 4;

  // Lifeguard: a suspicion starts at suspicion_max_timeout_mult times the minimum and shrinks
  // towards the minimum as independent confirmations arrive.
  int suspicion_max_timeout_mult = 6;

  // Each update is piggybacked about retransmit_mult * ceil(log10(N + 1)) times, enough for
  // epidemic dissemination to reach every member with high probability.
  int retransmit_mult = 4;

  // Largest datagram sent or accepted (HMAC trailer included). 1400 stays under a 1500-byte
  // Ethernet MTU with IP/UDP headers and some tunnel overhead: no IP fragmentation.
  size_t packet_size_limit = 1400;

  // Decoder limits: the largest string and container a packet may declare. Above them the
  // packet is malformed before anything is allocated.
  int32_t max_string_size = 1400;
  int32_t max_container_size = 256;

  // Full state exchange with one random live member (the node does it over Thrift/TCP):
  // repairs whatever gossip lost.
  int64_t push_pull_interval_ms = 30000;

  // Full state exchange with one random DEAD member (0: never). This is how two halves of a
  // healed partition, each having declared the other dead, find each other again.
  int64_t dead_push_pull_interval_ms = 30000;

  // Lifeguard's local health: up to this multiple of the probe interval and timeout when this
  // node misses acks (it is probably the slow one) before suspecting others.
  int awareness_max_multiplier = 8;

  // DEAD and LEFT members are forgotten after this long. Until then they are still pushed and
  // pulled with (see dead_push_pull_interval_ms), so a partition shorter than this heals.
  int64_t dead_reap_age_ms = 30 * 60 * 1000;

  // Packets whose sent_ms differs from the receiver's wall clock by more than this are
  // dropped as stale: a captured packet cannot be replayed after this window. It also bounds
  // the clock skew tolerated between members.
  int64_t stale_packet_window_ms = 60000;

  // Within that window a captured packet would still be accepted: the MACs of the packets
  // accepted in the window are remembered (ReplayGuard) and a second copy is dropped. At most
  // this many are kept (about 6 MiB at the default). A member receives a few packets per probe
  // interval whatever the cluster size, a few hundred per window: the default leaves room
  // for a hundred times that. When full, the oldest are forgotten and packets no newer than
  // them are dropped as stale.
  size_t replay_guard_capacity = 65536;

  // A helper waits this fraction (percent) of probe_timeout_ms for the target's ACK before
  // sending a NACK back, so that the NACK arrives within the requester's probe interval.
  int nack_timeout_percent = 80;

  // On leave(), the LEFT news is sent at once to this many random live members.
  int leave_fanout = 3;

  // Returns "" if the configuration is usable, otherwise one line naming the first bad field.
  std::string validate() const;
};

// memberlist's suspicionTimeout: mult * max(1, log10(max(n, 1))) * interval, in ms.
int64_t SuspicionMinTimeoutMs(int suspicion_mult, size_t cluster_size, int64_t probe_interval_ms);

// memberlist's retransmitLimit: mult * ceil(log10(n + 1)), at least 1.
int RetransmitLimit(int retransmit_mult, size_t cluster_size);

}  // namespace thrifty::membership
