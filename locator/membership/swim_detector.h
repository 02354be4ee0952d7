// SwimDetector: the SWIM failure detector with Lifeguard's refinements, and the gossip that
// spreads every change of the member table.
//
// Each probe period (SwimConfig::probe_interval_ms, scaled by local health) it probes one
// member, in a randomized round-robin order (reshuffled every round, newcomers inserted at
// random places): PING, then on probe timeout PING_REQ through k other members, which probe
// the target and forward its ACK (or send a NACK, so that the requester can tell its own
// trouble from the target's). No ACK by the end of the period: the target becomes SUSPECT
// and a Lifeguard suspicion timer starts; other members' suspicions of it shorten the timer;
// unless the member refutes (raises its incarnation) before it fires, it becomes DEAD.
//
// Every change of the MemberTable, whichever thread made it (Thrift calls too), is queued for
// gossip and piggybacked on PING, PING_REQ, ACK and NACK packets within the size limit.
// Piggybacking alone leaves a small chance that the one member who most needs some news
// misses it, so three rules send news straight to whom it concerns: a member held SUSPECT or
// DEAD hears so in every packet sent to it (Lifeguard's buddy system); a sender repeating an
// accusation that was already refuted gets the newer record back at once; a leaving member
// puts its LEFT record in every packet.
//
// Threading: the detector runs on one logical thread, the Scheduler's. Every method except
// stats() must be called on that thread (or before the scheduler runs anything). Other
// threads change the MemberTable, never the detector; the detector picks those changes up.
// Destroy it on that thread or after the thread has stopped; callbacks still queued in the
// scheduler then do nothing.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "gossip_types.h"
#include "locator/membership/awareness.h"
#include "locator/membership/broadcast_queue.h"
#include "locator/membership/gossip_codec.h"
#include "locator/membership/key_ring.h"
#include "locator/membership/member_table.h"
#include "locator/membership/replay_guard.h"
#include "locator/membership/suspicion.h"
#include "locator/membership/swim_config.h"
#include "locator/membership/swim_env.h"

namespace thrifty::membership {

// The gossip endpoint of a member: {its Thrift address, its gossip port}.
Location GossipEndpoint(const Member& member);

class SwimDetector {
 public:
  // Called every push-pull interval with one random ALIVE member, and every dead push-pull
  // interval with one random DEAD member, on the detector's thread: it must not block (hand
  // the TCP exchange to another thread and apply the result to the MemberTable there).
  using PushPullHook = std::function<void(const Member& peer)>;
  // leave()'s outcome: true once a member acknowledged a packet carrying the LEFT news (or
  // there was nobody to tell), false at the deadline.
  using LeaveCallback = std::function<void(bool told)>;

  // Throws std::invalid_argument if config.validate() fails. `table`, `scheduler` and
  // `transport` must outlive the detector; `keys` is copied. `seed` drives every random choice (probe
  // order, helpers, push-pull peers): fixed in simulations, from std::random_device in
  // production.
  SwimDetector(const SwimConfig& config, MemberTable& table, const KeyRing& keys,
               Scheduler& scheduler, PacketTransport& transport, uint64_t seed,
               PushPullHook push_pull = nullptr);
  ~SwimDetector();
  SwimDetector(const SwimDetector&) = delete;
  SwimDetector& operator=(const SwimDetector&) = delete;

  // Starts probing and push-pull, and queues this node's own record for gossip so that
  // members that do not know it yet learn of it. Call once.
  void start();

  // One received datagram, from the UDP source endpoint `from`. Never throws for bad input:
  // drops and counts it.
  void on_packet(const Location& from, const uint8_t* data, size_t size);
  void on_packet(const Location& from, const std::string& bytes) {
    on_packet(from, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  }

  // Clean leave: marks this node LEFT (MemberTable::set_self_state) and sends the news at once
  // to up to leave_fanout live members; `done` runs once (on the detector's thread) when one
  // of them acknowledged it, or with false after `timeout_ms`. The detector keeps answering
  // probes afterwards, so the news keeps spreading until the node stops it.
  void leave(int64_t timeout_ms, LeaveCallback done);

  // Counters and gauges (names prefixed "swim_"). Thread-safe.
  std::map<std::string, int64_t> stats() const;

  // Local health score (Awareness), for tests and logs.
  int awareness() const { return awareness_.score(); }
  // Members this node currently runs a suspicion timer for.
  size_t active_suspicions() const { return suspicions_.size(); }

 private:
  enum Counter : int {
    kPacketsSent, kPacketsReceived, kBytesSent, kBytesReceived, kPingsSent, kPingReqsSent,
    kAcksSent, kNacksSent, kAcksReceived, kNacksReceived, kProbes, kProbeFailures,
    kIndirectProbes, kRelayedProbes, kSuspicions, kConfirmations, kDeaths, kRefutations,
    kUpdatesApplied, kUpdatesSent, kPushPulls, kDroppedTooShort, kDroppedTooLarge,
    kDroppedBadMac, kDroppedMalformed, kDroppedStale, kDroppedUnknownSender,
    kDroppedMisdirected, kDroppedReplay, kEncodeFailures, kCorrections, kAwareness,
    kQueuedUpdates, kActiveSuspicions, kCounterCount
  };
  static const char* const kCounterNames[kCounterCount];

  struct Probe {
    bool active = false;
    int64_t seq = 0;
    Member target;
    bool acked = false;
    int nacks = 0;
    int expected_nacks = 0;
  };
  struct Relay {
    Location requester;
    std::string requester_name;
    int64_t seq = 0;  // the requester's
  };
  struct SuspicionTimer {
    Suspicion suspicion;
    int64_t incarnation = 0;
    uint64_t token = 0;
  };
  // Names of members changed by any thread, filled by the table listener.
  struct Inbox {
    std::mutex mu;
    std::set<std::string> names;
  };

  void add(Counter c, int64_t n = 1) { counters_[c].fetch_add(n, std::memory_order_relaxed); }
  void set(Counter c, int64_t v) { counters_[c].store(v, std::memory_order_relaxed); }
  template <typename Fn>
  void after(int64_t delay_ms, Fn fn);

  void probe_tick();
  void finish_probe();
  void on_probe_timeout(int64_t seq);
  void on_relay_timeout(int64_t seq);
  void push_pull_tick(bool dead);
  std::optional<Member> next_probe_target();
  void refresh();
  std::vector<std::string> pick_live(size_t k, const std::string& exclude);

  void handle_update(const MemberUpdate& update, const std::string& sender);
  void on_ack(int64_t seq);
  void suspect(const std::string& name);
  void start_suspicion(const Member& member, const std::string& from);
  void arm_suspicion(const std::string& name);
  void on_suspicion_timer(const std::string& name, uint64_t token);
  void broadcast(MemberUpdate update);
  void broadcast(const Member& member, bool reported_by_self);
  void drain();

  // `receiver` names the member behind `to` ("host:port" of its Thrift location).
  // `first` go before anything from the queue (they are not counted as transmissions).
  void send(GossipType::type type, int64_t seq, const Location& to, const std::string& receiver,
            const Location* target = nullptr, int32_t target_gossip_port = 0,
            std::vector<MemberUpdate> first = {});
  // Queues `member` (our newer record) to go back to the sender of the packet at hand.
  void correct(const Member& member);
  void log_drop(const char* what, const Location& from, const std::string& detail = "");

  const SwimConfig config_;
  MemberTable& table_;
  Scheduler& scheduler_;
  PacketTransport& transport_;
  GossipCodec codec_;
  ReplayGuard replay_guard_;
  std::mt19937_64 rng_;
  PushPullHook push_pull_;
  const Member self_at_start_;
  const std::string self_name_;
  const Location self_location_;

  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
  std::shared_ptr<Inbox> inbox_ = std::make_shared<Inbox>();
  MemberTable::ListenerId listener_id_ = 0;
  uint64_t refutations_seen_ = 0;

  bool started_ = false;
  bool self_left_ = false;  // this node is LEFT (cached from the table by drain())
  int64_t seq_ = 0;
  Probe probe_;
  std::unordered_map<int64_t, Relay> relays_;
  std::map<std::string, SuspicionTimer> suspicions_;
  uint64_t next_token_ = 1;
  BroadcastQueue queue_;
  Awareness awareness_;
  std::vector<MemberUpdate> corrections_;  // for the sender of the packet being handled

  // Snapshot of the table, rebuilt when its generation changes.
  uint64_t seen_generation_ = ~uint64_t{0};
  std::vector<std::string> live_;  // ALIVE, self excluded
  std::vector<std::string> dead_;  // DEAD (not LEFT)
  size_t cluster_size_ = 1;        // ALIVE and SUSPECT, self included
  std::vector<std::string> probe_order_;
  std::set<std::string> in_probe_order_;
  size_t probe_index_ = 0;
  int64_t last_reap_ms_ = 0;

  // leave()
  std::set<int64_t> leave_seqs_;
  LeaveCallback leave_done_;

  // Drop log limiter (per second of the scheduler's clock).
  int64_t drop_log_window_ms_ = 0;
  int drops_logged_ = 0;
  int64_t drops_suppressed_ = 0;

  std::array<std::atomic<int64_t>, kCounterCount> counters_{};
};

}  // namespace thrifty::membership
