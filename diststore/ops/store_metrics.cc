#include "diststore/ops/store_metrics.h"

#include <set>
#include <stdexcept>

namespace thrifty::diststore {

namespace {

using metrics::Labels;
using metrics::MetricType;
using metrics::PrometheusText;

constexpr MetricType kCounter = MetricType::kCounter;
constexpr MetricType kGauge = MetricType::kGauge;

// One stat and where it goes. Entries of one family are adjacent; a family is written only if
// at least one of its stats is there (a node without gossip has no swim_* stats).
struct StatMetric {
  const char* stat;
  const char* family;
  MetricType type;
  const char* help;  // the family's: the same on each of its entries
  const char* label = nullptr;
  const char* value = nullptr;
  double scale = 1.0;  // stat x scale = sample (milliseconds to the base unit, seconds)
};

constexpr char kMembersHelp[] = "Members this node knows of, by state.";
constexpr char kKeyOpsHelp[] =
    "Keys clients read, wrote or erased through this node (a multi_get or multi_put of n keys "
    "counts n).";
constexpr char kAuthHelp[] = "Peer handshakes this node checked, by result.";
constexpr char kLimitedHelp[] =
    "Connections this node closed or turned away to protect itself (--max-connections, "
    "--frame-timeout-ms, --idle-timeout-ms, --max-buffered-bytes), by reason.";
constexpr char kRefusedHelp[] =
    "Thrift connections closed because of what arrived on them, by reason.";
constexpr char kDroppedHelp[] = "Gossip packets dropped, by reason.";
constexpr char kHttpHelp[] = "HTTP answers of this node's operations endpoint, by status class.";
constexpr char kPhaseHelp[] =
    "Where the node is in its life, one series per phase: 1 for the current one (see /health).";

const StatMetric kStats[] = {
    // The node itself.
    {"data_bytes", "thrifty_data_bytes", kGauge,
     "Bytes of this node's data: its data directory on disk (RocksDB), or the keys and values it "
     "holds (memory); -1 if the directory cannot be read."},
    {"uptime_s", "thrifty_uptime_seconds", kGauge, "Seconds since this node started."},
    {"phase_joining", "thrifty_phase", kGauge, kPhaseHelp, "phase", "joining"},
    {"phase_serving", "thrifty_phase", kGauge, kPhaseHelp, "phase", "serving"},
    {"phase_draining", "thrifty_phase", kGauge, kPhaseHelp, "phase", "draining"},
    {"phase_stopped", "thrifty_phase", kGauge, kPhaseHelp, "phase", "stopped"},
    // Membership.
    {"members_alive", "thrifty_members", kGauge, kMembersHelp, "state", "alive"},
    {"members_suspect", "thrifty_members", kGauge, kMembersHelp, "state", "suspect"},
    {"members_dead", "thrifty_members", kGauge, kMembersHelp, "state", "dead"},
    {"members_left", "thrifty_members", kGauge, kMembersHelp, "state", "left"},
    {"ring_nodes", "thrifty_ring_nodes", kGauge, "Nodes in this node's ring (ALIVE and SUSPECT members)."},
    {"joins_handled", "thrifty_joins_handled_total", kCounter, "Joins this node admitted as a seed."},
    {"joins_refused", "thrifty_joins_refused_total", kCounter, "Joins this node refused as a seed."},
    {"host_id_changes", "thrifty_host_id_changes_total", kCounter,
     "Members that came back at a known address with another host ID (a new node)."},
    {"syncs_sent", "thrifty_syncs_sent_total", kCounter, "Membership push-pulls (sync) this node started."},
    {"syncs_failed", "thrifty_syncs_failed_total", kCounter, "Membership push-pulls (sync) that failed."},
    {"peer_failures", "thrifty_peer_failures_total", kCounter, "Calls to other nodes that failed."},
    // Discovery through etcd (only with --discovery).
    {"discovery_keepalives", "thrifty_discovery_keepalives_total", kCounter,
     "Renewals of this node's etcd lease that succeeded."},
    {"discovery_keepalive_failures", "thrifty_discovery_keepalive_failures_total", kCounter,
     "Calls to etcd that failed while keeping this node's registration alive."},
    {"discovery_re_registrations", "thrifty_discovery_re_registrations_total", kCounter,
     "Leases granted again (and the entry put again) after etcd lost this node's lease."},
    // Trust.
    {"peer_auth_ok", "thrifty_peer_auth_total", kCounter, kAuthHelp, "result", "ok"},
    {"peer_auth_failed", "thrifty_peer_auth_total", kCounter, kAuthHelp, "result", "failed"},
    {"peer_auth_certificate", "thrifty_peer_auth_total", kCounter, kAuthHelp, "result", "certificate"},
    {"peer_calls_refused", "thrifty_peer_calls_refused_total", kCounter,
     "Node-to-node calls refused on a connection that did not prove the cluster key."},
    // The Thrift server.
    {"rpc_connections_open", "thrifty_rpc_connections_open", kGauge, "Thrift connections open on this node."},
    {"rpc_frames_oversized", "thrifty_rpc_connections_refused_total", kCounter, kRefusedHelp, "reason", "oversized_frame"},
    {"rpc_frames_overrun", "thrifty_rpc_connections_refused_total", kCounter, kRefusedHelp, "reason", "frame_overrun"},
    {"rpc_protocol_errors", "thrifty_rpc_connections_refused_total", kCounter, kRefusedHelp, "reason", "protocol_error"},
    {"rpc_tls_handshake_failures", "thrifty_rpc_connections_refused_total", kCounter, kRefusedHelp, "reason", "tls_handshake"},
    {"rpc_connections_over_limit", "thrifty_rpc_connections_closed_total", kCounter, kLimitedHelp, "reason", "max_connections"},
    {"rpc_frame_timeouts", "thrifty_rpc_connections_closed_total", kCounter, kLimitedHelp, "reason", "frame_timeout"},
    {"rpc_idle_timeouts", "thrifty_rpc_connections_closed_total", kCounter, kLimitedHelp, "reason", "idle_timeout"},
    {"rpc_buffer_limit_closes", "thrifty_rpc_connections_closed_total", kCounter, kLimitedHelp, "reason", "max_buffered_bytes"},
    {"rpc_buffered_bytes", "thrifty_rpc_buffered_bytes", kGauge,
     "Bytes of requests not yet complete, held over all connections (bounded by --max-buffered-bytes)."},
    {"rpc_calls_in_progress", "thrifty_rpc_calls_in_progress", kGauge,
     "Requests read and not yet answered: running, or queued behind another on their connection."},
    {"rpc_loop_lag_ms", "thrifty_rpc_loop_lag_seconds", kGauge,
     "How late the slowest event loop was for its last timer: a loop kept busy shows here.",
     nullptr, nullptr, 0.001},
    // Calls to other nodes (peer channels).
    {"rpc_peer_calls_in_flight", "thrifty_rpc_peer_calls_in_flight", kGauge,
     "Calls to other nodes sent or queued and not yet answered."},
    {"rpc_peer_call_timeouts", "thrifty_rpc_peer_call_timeouts_total", kCounter,
     "Calls to other nodes that got no reply by their deadline."},
    {"rpc_peer_late_replies", "thrifty_rpc_peer_late_replies_total", kCounter,
     "Replies from other nodes that came after their call's deadline (dropped)."},
    {"rpc_peer_calls_refused", "thrifty_rpc_peer_calls_refused_total", kCounter,
     "Calls to other nodes refused before sending: too many in flight or queued to that peer."},
    {"rpc_peer_connect_failures", "thrifty_rpc_peer_connect_failures_total", kCounter,
     "Connections to other nodes that could not be made or set up (TCP, TLS, peer handshake)."},
    {"rpc_peer_connections_lost", "thrifty_rpc_peer_connections_lost_total", kCounter,
     "Connections to other nodes that failed after set-up, failing the calls in flight on them."},
    // Store requests.
    {"gets", "thrifty_key_operations_total", kCounter, kKeyOpsHelp, "op", "get"},
    {"puts", "thrifty_key_operations_total", kCounter, kKeyOpsHelp, "op", "put"},
    {"erases", "thrifty_key_operations_total", kCounter, kKeyOpsHelp, "op", "erase"},
    {"not_found", "thrifty_keys_not_found_total", kCounter, "Keys asked for that were not found."},
    {"errors", "thrifty_request_errors_total", kCounter, "Store requests that failed with an error."},
    {"forwarded", "thrifty_forwarded_calls_total", kCounter,
     "Calls this node sent to other owners for requests (forwarding and fallback reads)."},
    {"rerouted", "thrifty_rerouted_total", kCounter,
     "Requests routed once more because the ring changed while an owner failed."},
    {"fallback_reads", "thrifty_fallback_reads_total", kCounter,
     "Reads that also asked where a key was before the ring changed."},
    {"versions_refused", "thrifty_versions_refused_total", kCounter,
     "Writes from peers refused for a version too far ahead of this node's clock."},
    {"keys", "thrifty_keys_live", kGauge, "Live keys (not tombstones) stored on this node, counted exactly."},
    {"keys_estimate", "thrifty_records_estimated", kGauge,
     "Records stored on this node as the engine estimates them (RocksDB: tombstones and "
     "overwritten keys count until compaction)."},
    // The engine's write path (RocksDB).
    {"engine_write_groups", "thrifty_engine_write_groups_total", kCounter,
     "Groups of writes the engine committed, each one RocksDB write."},
    {"engine_writes_grouped", "thrifty_engine_writes_grouped_total", kCounter,
     "Writes (merges, batches, conditional deletes) committed in those groups."},
    {"engine_merge_reads_skipped", "thrifty_engine_merge_reads_skipped_total", kCounter,
     "Keys written without reading the stored record: newer than every version stored."},
    {"engine_writes_waiting", "thrifty_engine_writes_waiting", kGauge,
     "Writes queued for the engine's next group."},
    // Moving keys.
    {"handoff_sweeps", "thrifty_handoff_sweeps_total", kCounter, "Handoff sweeps over this node's data."},
    {"handoff_records_out", "thrifty_handoff_sent_records_total", kCounter,
     "Records handed to their owners and acknowledged."},
    {"handoff_batches_out", "thrifty_handoff_sent_batches_total", kCounter, "Handoff batches acknowledged."},
    {"handoff_failures", "thrifty_handoff_failures_total", kCounter, "Handoff batches that failed (retried later)."},
    {"handoff_records_in", "thrifty_handoff_received_records_total", kCounter, "Records received by handoff."},
    {"handoff_settled_ring", "thrifty_handoff_settled_ring", kGauge,
     "Fingerprint of the ring on which this node's last handoff sweep handed off everything "
     "(0: none yet); a node that joins anew waits for every member to reach its ring."},
    // Replication.
    {"unavailable", "thrifty_unavailable_total", kCounter,
     "Requests refused at once: fewer live replicas than their consistency level needs."},
    {"timed_out", "thrifty_write_timed_out_total", kCounter,
     "Replicated writes acknowledged by fewer replicas than required (outcome unknown)."},
    {"replica_writes", "thrifty_replica_writes_total", kCounter,
     "Batches a write's leader sent to the other replicas."},
    {"read_repairs", "thrifty_read_repairs_total", kCounter,
     "Records written back to replicas a read found stale."},
    {"hints_stored", "thrifty_hints_stored_total", kCounter,
     "Hints kept for replicas that missed a write."},
    {"hints_replayed", "thrifty_hints_replayed_total", kCounter,
     "Hints delivered to their replica once it was back."},
    {"hints_dropped", "thrifty_hints_dropped_total", kCounter,
     "Hints dropped because they outlived the hint window."},
    {"hints_failed", "thrifty_hints_failed_total", kCounter, "Hints that could not be stored."},
    {"hints_pending", "thrifty_hints_pending", kGauge, "Hints kept on this node, not yet delivered."},
    {"hints_dropped_gc_grace", "thrifty_hints_dropped_gc_grace_total", kCounter,
     "Hints dropped because their write is older than --gc-grace-s."},
    {"handoff_records_dropped_gc_grace", "thrifty_handoff_dropped_gc_grace_records_total", kCounter,
     "Handoff records dropped because they are older than --gc-grace-s."},
    // Anti-entropy and tombstone GC.
    {"repair_runs", "thrifty_repair_runs_total", kCounter, "Anti-entropy repair runs (periodic and on demand)."},
    {"repair_ranges_compared", "thrifty_repair_ranges_compared_total", kCounter,
     "Ranges compared with their other replicas by repair runs."},
    {"repair_ranges_differing", "thrifty_repair_ranges_differing_total", kCounter,
     "Ranges a repair run found different on some replica."},
    {"repair_keys_moved", "thrifty_repair_keys_moved_total", kCounter,
     "Records a repair run sent to or took from a replica that lacked them."},
    {"repair_hashes_exchanged", "thrifty_repair_hashes_exchanged_total", kCounter,
     "Tree hashes received from peers by repair runs (roots included)."},
    {"repair_bytes_sent", "thrifty_repair_sent_bytes_total", kCounter,
     "Bytes of this node's anti-entropy calls to peers (framed Thrift messages; repair and rebuild runs)."},
    {"repair_bytes_received", "thrifty_repair_received_bytes_total", kCounter,
     "Bytes of the replies to this node's anti-entropy calls (framed Thrift messages)."},
    {"repair_peers_skipped", "thrifty_repair_peers_skipped_total", kCounter,
     "Peers a repair run could not compare with (unreachable, or trees of another ring)."},
    {"tombstones_purged", "thrifty_tombstones_purged_total", kCounter,
     "Tombstones purged by the GC pass once older than --gc-grace-s and agreed by every replica."},
    {"digest_rebuilds", "thrifty_digest_rebuilds_total", kCounter,
     "Rebuilds of the anti-entropy trees from the data (start, ring changes)."},
    {"digest_ranges", "thrifty_digest_ranges", kGauge, "Ranges this node keeps an anti-entropy tree for."},
    {"rebuilding", "thrifty_rebuilding", kGauge,
     "1 while this node, new or back with a new host ID, takes its ranges from the other "
     "replicas (it does not count toward R meanwhile), else 0."},
    {"rebuild_kind", "thrifty_rebuild_kind", kGauge,
     "How this node took its ranges when it started: 0 it had them (or nothing to take), 1 a "
     "first join, 2 a wiped return (a new host ID at an address the cluster knew)."},
    {"rebuilds", "thrifty_rebuilds_total", kCounter,
     "Rebuilds of this node's ranges from the other replicas that finished."},
    {"rebuilds_with_live", "thrifty_rebuilds_with_live_total", kCounter,
     "Rebuilds finished with the live replicas only, by the operator's override "
     "(storectl finish-rebuild)."},
    {"rebuild_keys", "thrifty_rebuild_keys_total", kCounter,
     "Records this node took from other replicas while it rebuilt its ranges."},
    // Gossip (SWIM).
    {"swim_packets_sent", "thrifty_swim_sent_packets_total", kCounter, "Gossip packets sent."},
    {"swim_packets_received", "thrifty_swim_received_packets_total", kCounter, "Gossip packets received."},
    {"swim_bytes_sent", "thrifty_swim_sent_bytes_total", kCounter, "Gossip bytes sent."},
    {"swim_bytes_received", "thrifty_swim_received_bytes_total", kCounter, "Gossip bytes received."},
    {"swim_pings_sent", "thrifty_swim_pings_sent_total", kCounter, "PINGs sent."},
    {"swim_ping_reqs_sent", "thrifty_swim_ping_reqs_sent_total", kCounter, "PING_REQs (indirect probes) sent."},
    {"swim_acks_sent", "thrifty_swim_acks_sent_total", kCounter, "ACKs sent."},
    {"swim_nacks_sent", "thrifty_swim_nacks_sent_total", kCounter, "NACKs sent."},
    {"swim_acks_received", "thrifty_swim_acks_received_total", kCounter, "ACKs received."},
    {"swim_nacks_received", "thrifty_swim_nacks_received_total", kCounter, "NACKs received."},
    {"swim_probes", "thrifty_swim_probes_total", kCounter, "Members probed."},
    {"swim_probe_failures", "thrifty_swim_probe_failures_total", kCounter, "Probes that got no ACK, directly or indirectly."},
    {"swim_indirect_probes", "thrifty_swim_indirect_probes_total", kCounter, "Probes that went on through other members."},
    {"swim_relayed_probes", "thrifty_swim_relayed_probes_total", kCounter, "Probes this node made for another member."},
    {"swim_suspicions", "thrifty_swim_suspicions_total", kCounter, "Members this node began to suspect."},
    {"swim_confirmations", "thrifty_swim_confirmations_total", kCounter, "Independent confirmations of suspicions."},
    {"swim_deaths", "thrifty_swim_deaths_total", kCounter, "Members declared DEAD."},
    {"swim_refutations", "thrifty_swim_refutations_total", kCounter, "Suspicions of this node it refuted."},
    {"swim_updates_applied", "thrifty_swim_updates_applied_total", kCounter, "Membership updates applied from gossip."},
    {"swim_updates_sent", "thrifty_swim_updates_sent_total", kCounter, "Membership updates sent in gossip packets."},
    {"swim_push_pulls", "thrifty_swim_push_pulls_total", kCounter, "Full state exchanges started by gossip."},
    {"swim_encode_failures", "thrifty_swim_encode_failures_total", kCounter, "Gossip packets that could not be encoded."},
    {"swim_corrections", "thrifty_swim_corrections_total", kCounter, "Outdated updates answered with the newer state."},
    {"swim_dropped_too_short", "thrifty_swim_dropped_packets_total", kCounter, kDroppedHelp, "reason", "too_short"},
    {"swim_dropped_too_large", "thrifty_swim_dropped_packets_total", kCounter, kDroppedHelp, "reason", "too_large"},
    {"swim_dropped_bad_mac", "thrifty_swim_dropped_packets_total", kCounter, kDroppedHelp, "reason", "bad_mac"},
    {"swim_dropped_malformed", "thrifty_swim_dropped_packets_total", kCounter, kDroppedHelp, "reason", "malformed"},
    {"swim_dropped_stale", "thrifty_swim_dropped_packets_total", kCounter, kDroppedHelp, "reason", "stale"},
    {"swim_dropped_unknown_sender", "thrifty_swim_dropped_packets_total", kCounter, kDroppedHelp, "reason", "unknown_sender"},
    {"swim_dropped_misdirected", "thrifty_swim_dropped_packets_total", kCounter, kDroppedHelp, "reason", "misdirected"},
    {"swim_dropped_replay", "thrifty_swim_dropped_packets_total", kCounter, kDroppedHelp, "reason", "replay"},
    {"runtime_dropped_oversized", "thrifty_swim_dropped_datagrams_total", kCounter,
     "Gossip datagrams over the size limit, dropped before decoding."},
    {"runtime_send_errors", "thrifty_swim_send_errors_total", kCounter, "Gossip datagrams that could not be sent."},
    {"runtime_receive_errors", "thrifty_swim_receive_errors_total", kCounter, "Errors receiving gossip datagrams."},
    {"swim_awareness", "thrifty_swim_awareness", kGauge,
     "This node's local health score (0 is healthy; higher stretches its probe timing)."},
    {"swim_queued_updates", "thrifty_swim_queued_updates", kGauge, "Membership updates waiting to be gossiped."},
    {"swim_active_suspicions", "thrifty_swim_active_suspicions", kGauge, "Members suspected now."},
    // The HTTP endpoint itself.
    {"http_connections_open", "thrifty_http_connections_open", kGauge, "HTTP connections open on this node."},
    {"http_responses_2xx", "thrifty_http_responses_total", kCounter, kHttpHelp, "code", "2xx"},
    {"http_responses_4xx", "thrifty_http_responses_total", kCounter, kHttpHelp, "code", "4xx"},
    {"http_responses_5xx", "thrifty_http_responses_total", kCounter, kHttpHelp, "code", "5xx"},
    {"http_connections_refused", "thrifty_http_connections_refused_total", kCounter,
     "HTTP connections closed at once because too many were open."},
    {"http_timeouts", "thrifty_http_timeouts_total", kCounter,
     "HTTP connections closed because a request came too slowly or an answer was not taken."},
};

// Settings the node reports among its stats; they become thrifty_config labels.
const char* const kSettingStats[] = {"replicas", "max_key_bytes", "max_value_bytes", "max_batch_entries",
                                     "rpc_max_frame_bytes"};

// The version's numbers: thrifty_build_info's version label says them (StoreMetricsText checks
// that they agree with it).
const char* const kVersionStats[] = {"version_major", "version_minor", "version_patch"};

const StatMetric* Find(const std::string& stat) {
  for (const StatMetric& m : kStats) {
    if (stat == m.stat) return &m;
  }
  return nullptr;
}

}  // namespace

bool IsSettingStat(const std::string& name) {
  for (const char* setting : kSettingStats) {
    if (name == setting) return true;
  }
  return false;
}

bool IsVersionStat(const std::string& name) {
  for (const char* part : kVersionStats) {
    if (name == part) return true;
  }
  return false;
}

std::string VersionFromStats(const std::map<std::string, int64_t>& stats) {
  std::string version;
  for (const char* part : kVersionStats) {
    const auto it = stats.find(part);
    if (it == stats.end()) return "";
    version += (version.empty() ? "" : ".") + std::to_string(it->second);
  }
  return version;
}

std::vector<std::string> UnclassifiedStats(const std::map<std::string, int64_t>& stats) {
  std::vector<std::string> out;
  for (const auto& [name, value] : stats) {
    if (!Find(name) && !IsSettingStat(name) && !IsVersionStat(name)) out.push_back(name);
  }
  return out;
}

std::string StoreMetricsText(const StoreMetricsInput& input) {
  const std::string stated = VersionFromStats(input.stats);
  if (!stated.empty() && stated != input.version) {
    throw std::logic_error("the node's version stats say " + stated + ", its build info " +
                           input.version);
  }
  PrometheusText out;
  out.info("thrifty_build_info", "The thrifty version this node runs.",
           {{"version", input.version}});
  Labels config = input.settings;
  for (const char* setting : kSettingStats) {
    if (auto it = input.stats.find(setting); it != input.stats.end()) {
      config.emplace_back(setting, std::to_string(it->second));
    }
  }
  out.info("thrifty_config", "This node's settings, as labels.", config);
  out.info("thrifty_node_info", "Who this node is.", input.node);
  out.family("thrifty_serving", kGauge,
             "1 while the node serves requests, 0 while it joins or drains (see /health).");
  out.sample(int64_t{input.serving ? 1 : 0});
  out.family("process_start_time_seconds", kGauge, "When the node started, in Unix time.");
  out.sample(input.start_time_seconds);

  std::set<std::string> written;
  for (size_t i = 0; i < std::size(kStats); ++i) {
    const std::string family = kStats[i].family;
    if (written.count(family)) continue;
    written.insert(family);
    bool declared = false;
    for (size_t j = i; j < std::size(kStats) && family == kStats[j].family; ++j) {
      const auto it = input.stats.find(kStats[j].stat);
      if (it == input.stats.end()) continue;
      if (!declared) out.family(family, kStats[j].type, kStats[j].help);
      declared = true;
      Labels labels;
      if (kStats[j].label) labels.emplace_back(kStats[j].label, kStats[j].value);
      if (kStats[j].scale == 1.0) {
        out.sample(it->second, labels);
      } else {
        out.sample(static_cast<double>(it->second) * kStats[j].scale, labels);
      }
    }
  }
  for (const std::string& stat : UnclassifiedStats(input.stats)) {
    // Nothing is lost: exported as it is, until the table above says what it is.
    const std::string name = "thrifty_stat_" + stat;
    PrometheusText::CheckMetricName(name);
    out.family(name, MetricType::kUntyped, "The node's stat " + stat + " (not yet classified).");
    out.sample(input.stats.at(stat));
  }

  if (input.latency) {
    out.family("thrifty_request_duration_seconds", MetricType::kHistogram,
               "How long client requests to this node took, by operation (routing, forwarding "
               "and storage included; failures too).");
    for (size_t op = 0; op < static_cast<size_t>(ClientOp::kCount); ++op) {
      const auto which = static_cast<ClientOp>(op);
      out.histogram(input.latency->of(which).snapshot(), {{"op", StoreLatency::Name(which)}});
    }
    out.family("thrifty_peer_call_duration_seconds", MetricType::kHistogram,
               "How long this node's calls to other nodes took: owner_get (reads forwarded to "
               "owners, and asks of previous holders while keys move), owner_put (writes "
               "forwarded to owners), handoff (one batch each); failures too.");
    for (size_t call = 0; call < static_cast<size_t>(PeerCall::kCount); ++call) {
      const auto which = static_cast<PeerCall>(call);
      out.histogram(input.latency->of(which).snapshot(), {{"call", StoreLatency::Name(which)}});
    }
  }
  return out.text();
}

}  // namespace thrifty::diststore
