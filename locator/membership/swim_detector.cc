#include "locator/membership/swim_detector.h"

#include <glog/logging.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace thrifty::membership {

const char* const SwimDetector::kCounterNames[kCounterCount] = {
    "swim_packets_sent", "swim_packets_received", "swim_bytes_sent", "swim_bytes_received",
    "swim_pings_sent", "swim_ping_reqs_sent", "swim_acks_sent", "swim_nacks_sent",
    "swim_acks_received", "swim_nacks_received", "swim_probes", "swim_probe_failures",
    "swim_indirect_probes", "swim_relayed_probes", "swim_suspicions", "swim_confirmations",
    "swim_deaths", "swim_refutations", "swim_updates_applied", "swim_updates_sent",
    "swim_push_pulls", "swim_dropped_too_short", "swim_dropped_too_large",
    "swim_dropped_bad_mac", "swim_dropped_malformed", "swim_dropped_stale",
    "swim_dropped_unknown_sender", "swim_dropped_misdirected", "swim_dropped_replay",
    "swim_encode_failures", "swim_corrections", "swim_awareness", "swim_queued_updates",
    "swim_active_suspicions",
};

namespace {

const SwimConfig& Validated(const SwimConfig& config) {
  const std::string error = config.validate();
  if (!error.empty()) throw std::invalid_argument(error);
  return config;
}

// Starter of a suspicion whose first reporter is unknown (merged by push-pull or a Thrift
// call): it confirms nothing, and no real member can be named like it.
constexpr const char* kUnattributed = "(unattributed)";

}  // namespace

Location GossipEndpoint(const Member& member) {
  Location endpoint;
  endpoint.address = member.location.address;
  endpoint.port = member.gossip_port;
  return endpoint;
}

SwimDetector::SwimDetector(const SwimConfig& config, MemberTable& table, const KeyRing& keys,
                           Scheduler& scheduler, PacketTransport& transport, uint64_t seed,
                           PushPullHook push_pull)
    : config_(Validated(config)),
      table_(table),
      scheduler_(scheduler),
      transport_(transport),
      codec_(config_, keys),
      replay_guard_(config_.stale_packet_window_ms, config_.replay_guard_capacity),
      rng_(seed),
      push_pull_(std::move(push_pull)),
      self_at_start_(table.self()),
      self_name_(table.self_name()),
      self_location_(self_at_start_.location),
      awareness_(config_.awareness_max_multiplier) {
  // A random first sequence number: ACKs meant for a previous run of this node at the same
  // endpoint are not taken for answers to this one's probes.
  seq_ = static_cast<int64_t>(rng_() >> 33);
  refutations_seen_ = table_.refutations();
  std::weak_ptr<Inbox> inbox = inbox_;
  const std::string self_name = self_name_;
  listener_id_ = table_.add_listener(
      [inbox, self_name](const std::optional<Member>& before, const Member& after) {
        const std::string name = MemberName(after.location);
        if (!before) {
          LOG(INFO) << "member " << name << " joined the view (" << StateName(after.state)
                    << ", incarnation " << after.incarnation << ")";
        } else if (before->state != after.state) {
          LOG(INFO) << "member " << name << ": " << StateName(before->state) << " -> "
                    << StateName(after.state) << " (incarnation " << after.incarnation << ")";
        } else if (name == self_name && after.incarnation > before->incarnation &&
                   after.metadata == before->metadata) {
          LOG(INFO) << "member " << name << " (self): refuted, incarnation "
                    << before->incarnation << " -> " << after.incarnation;
        }
        if (auto box = inbox.lock()) {
          std::lock_guard<std::mutex> lock(box->mu);
          box->names.insert(name);
        }
      });
}

SwimDetector::~SwimDetector() {
  table_.remove_listener(listener_id_);
  if (leave_done_) {
    auto done = std::move(leave_done_);
    leave_done_ = nullptr;
    done(false);
  }
}

template <typename Fn>
void SwimDetector::after(int64_t delay_ms, Fn fn) {
  std::weak_ptr<int> alive = alive_;
  scheduler_.schedule(std::max<int64_t>(0, delay_ms), [alive, fn = std::move(fn)]() mutable {
    if (alive.lock()) fn();
  });
}

void SwimDetector::start() {
  if (started_) return;
  started_ = true;
  broadcast(table_.self(), false);
  // Start at a random point of the first period so that members started together do not
  // probe in lockstep.
  const auto jitter = [this](int64_t interval) {
    return static_cast<int64_t>(rng_() % static_cast<uint64_t>(std::max<int64_t>(1, interval)));
  };
  after(jitter(config_.probe_interval_ms), [this] { probe_tick(); });
  if (config_.push_pull_interval_ms > 0) {
    after(jitter(config_.push_pull_interval_ms), [this] { push_pull_tick(false); });
  }
  if (config_.dead_push_pull_interval_ms > 0) {
    after(jitter(config_.dead_push_pull_interval_ms), [this] { push_pull_tick(true); });
  }
}

// ---- Table snapshot and probe order ----

void SwimDetector::refresh() {
  const uint64_t generation = table_.generation();
  if (generation == seen_generation_) return;
  seen_generation_ = generation;
  live_.clear();
  dead_.clear();
  cluster_size_ = 0;
  for (const auto& [name, state] : table_.states()) {
    if (InRing(state)) ++cluster_size_;
    if (name == self_name_) continue;
    if (state == MemberState::ALIVE) live_.push_back(name);
    if (state == MemberState::DEAD) dead_.push_back(name);
    if (InRing(state) && in_probe_order_.count(name) == 0) {
      in_probe_order_.insert(name);
      // A newcomer goes to a random place of the current round, like memberlist.
      const size_t pos = std::uniform_int_distribution<size_t>(0, probe_order_.size())(rng_);
      probe_order_.insert(probe_order_.begin() + static_cast<ptrdiff_t>(pos), name);
      if (pos < probe_index_) ++probe_index_;
    }
  }
  cluster_size_ = std::max<size_t>(cluster_size_, 1);
}

std::optional<Member> SwimDetector::next_probe_target() {
  refresh();
  for (size_t attempts = 0; attempts <= probe_order_.size() + 1; ++attempts) {
    if (probe_index_ >= probe_order_.size()) {
      // End of a round: forget who is gone, reshuffle, start again.
      std::vector<std::string> next;
      for (const auto& name : probe_order_) {
        auto m = table_.find(name);
        if (m && InRing(m->state)) {
          next.push_back(name);
        } else {
          in_probe_order_.erase(name);
        }
      }
      std::shuffle(next.begin(), next.end(), rng_);
      probe_order_ = std::move(next);
      probe_index_ = 0;
      if (probe_order_.empty()) return std::nullopt;
    }
    const std::string& name = probe_order_[probe_index_++];
    auto m = table_.find(name);
    if (m && InRing(m->state) && m->gossip_port > 0) return m;
  }
  return std::nullopt;
}

std::vector<std::string> SwimDetector::pick_live(size_t k, const std::string& exclude) {
  refresh();
  std::vector<std::string> pool;
  pool.reserve(live_.size());
  for (const auto& name : live_) {
    if (name != exclude) pool.push_back(name);
  }
  // Partial Fisher-Yates: the first k are a uniform sample.
  const size_t n = std::min(k, pool.size());
  for (size_t i = 0; i < n; ++i) {
    const size_t j = std::uniform_int_distribution<size_t>(i, pool.size() - 1)(rng_);
    std::swap(pool[i], pool[j]);
  }
  pool.resize(n);
  return pool;
}

// ---- Probing ----

void SwimDetector::probe_tick() {
  finish_probe();
  drain();
  // Reaping walks the whole table: a tenth of the reap age is precise enough.
  const int64_t now = scheduler_.now_ms();
  if (now - last_reap_ms_ >= std::min<int64_t>(config_.dead_reap_age_ms / 10, 10'000)) {
    last_reap_ms_ = now;
    table_.reap(scheduler_.wall_ms(), config_.dead_reap_age_ms);
  }
  if (auto target = next_probe_target()) {
    add(kProbes);
    probe_ = Probe{};
    probe_.active = true;
    probe_.seq = ++seq_;
    probe_.target = *target;
    send(GossipType::PING, probe_.seq, GossipEndpoint(*target), MemberName(target->location),
         &target->location);
    const int64_t seq = probe_.seq;
    after(awareness_.scale(config_.probe_timeout_ms), [this, seq] { on_probe_timeout(seq); });
  }
  set(kAwareness, awareness_.score());
  // The end of this period is the start of the next: finish_probe() judges this probe then.
  after(awareness_.scale(config_.probe_interval_ms), [this] { probe_tick(); });
}

void SwimDetector::on_probe_timeout(int64_t seq) {
  if (!probe_.active || probe_.seq != seq || probe_.acked) return;
  const std::string target = MemberName(probe_.target.location);
  const auto helpers = pick_live(static_cast<size_t>(config_.indirect_checks), target);
  if (helpers.empty()) return;
  add(kIndirectProbes);
  for (const auto& name : helpers) {
    auto helper = table_.find(name);
    if (!helper || helper->gossip_port <= 0) continue;
    send(GossipType::PING_REQ, seq, GossipEndpoint(*helper), name, &probe_.target.location,
         probe_.target.gossip_port);
    ++probe_.expected_nacks;
  }
}

void SwimDetector::finish_probe() {
  if (!probe_.active) return;
  probe_.active = false;
  if (probe_.acked) return;
  add(kProbeFailures);
  // A leaving node no longer judges others.
  if (table_.self().state == MemberState::LEFT) return;
  // Lifeguard: helpers that answered with NACKs show our own network works; a silent helper
  // or no helper at all counts against our own health.
  int delta = 1;
  if (probe_.expected_nacks > 0) delta = std::max(0, probe_.expected_nacks - probe_.nacks);
  awareness_.apply_delta(delta);
  suspect(MemberName(probe_.target.location));
}

void SwimDetector::on_ack(int64_t seq) {
  if (probe_.active && probe_.seq == seq) {
    if (!probe_.acked) {
      probe_.acked = true;
      awareness_.apply_delta(-1);
    }
  } else if (auto it = relays_.find(seq); it != relays_.end()) {
    const Relay relay = it->second;
    relays_.erase(it);
    send(GossipType::ACK, relay.seq, relay.requester, relay.requester_name);
  }
  if (leave_seqs_.count(seq) != 0 && leave_done_) {
    leave_seqs_.clear();
    auto done = std::move(leave_done_);
    leave_done_ = nullptr;
    done(true);
  }
}

void SwimDetector::on_relay_timeout(int64_t seq) {
  auto it = relays_.find(seq);
  if (it == relays_.end()) return;
  const Relay relay = it->second;
  relays_.erase(it);
  send(GossipType::NACK, relay.seq, relay.requester, relay.requester_name);
}

void SwimDetector::push_pull_tick(bool dead) {
  refresh();
  const auto& pool = dead ? dead_ : live_;
  if (!pool.empty() && push_pull_) {
    const std::string& name =
        pool[std::uniform_int_distribution<size_t>(0, pool.size() - 1)(rng_)];
    if (auto peer = table_.find(name)) {
      add(kPushPulls);
      push_pull_(*peer);
    }
  }
  const int64_t interval = dead ? config_.dead_push_pull_interval_ms : config_.push_pull_interval_ms;
  after(interval, [this, dead] { push_pull_tick(dead); });
}

// ---- Suspicion ----

void SwimDetector::suspect(const std::string& name) {
  auto m = table_.find(name);
  if (!m) return;
  if (m->state == MemberState::ALIVE) {
    if (!table_.mark(name, MemberState::SUSPECT)) return;
    add(kSuspicions);
    auto now = table_.find(name);
    if (!now) return;
    start_suspicion(*now, self_name_);
    broadcast(*now, true);
  } else if (m->state == MemberState::SUSPECT) {
    auto it = suspicions_.find(name);
    if (it == suspicions_.end() || it->second.incarnation != m->incarnation) {
      start_suspicion(*m, self_name_);
      broadcast(*m, true);
    } else if (it->second.suspicion.confirm(self_name_)) {
      add(kConfirmations);
      arm_suspicion(name);
      broadcast(*m, true);
    }
  }
}

void SwimDetector::start_suspicion(const Member& member, const std::string& from) {
  refresh();
  const size_t n = cluster_size_;
  // Expect confirmations from all but the suspect and ourselves, up to mult - 2: then the
  // nominal timeout is reached two probe periods short of mult periods, as in memberlist.
  int k = config_.suspicion_mult - 2;
  if (static_cast<int64_t>(n) - 2 < k) k = 0;
  const int64_t min_ms = SuspicionMinTimeoutMs(config_.suspicion_mult, n, config_.probe_interval_ms);
  const int64_t max_ms = config_.suspicion_max_timeout_mult * min_ms;
  const std::string name = MemberName(member.location);
  suspicions_.erase(name);
  suspicions_.emplace(name, SuspicionTimer{Suspicion(from, k, min_ms, max_ms, scheduler_.now_ms()),
                                           member.incarnation, 0});
  arm_suspicion(name);
  set(kActiveSuspicions, static_cast<int64_t>(suspicions_.size()));
}

void SwimDetector::arm_suspicion(const std::string& name) {
  auto it = suspicions_.find(name);
  if (it == suspicions_.end()) return;
  const uint64_t token = next_token_++;
  it->second.token = token;
  const int64_t delay = it->second.suspicion.deadline_ms() - scheduler_.now_ms();
  after(delay, [this, name, token] { on_suspicion_timer(name, token); });
}

void SwimDetector::on_suspicion_timer(const std::string& name, uint64_t token) {
  auto it = suspicions_.find(name);
  if (it == suspicions_.end() || it->second.token != token) return;
  const int64_t incarnation = it->second.incarnation;
  suspicions_.erase(it);
  set(kActiveSuspicions, static_cast<int64_t>(suspicions_.size()));
  auto m = table_.find(name);
  if (!m || m->state != MemberState::SUSPECT || m->incarnation != incarnation) return;
  if (!table_.mark(name, MemberState::DEAD)) return;
  add(kDeaths);
  if (auto now = table_.find(name)) broadcast(*now, true);
}

// ---- Gossip ----

void SwimDetector::correct(const Member& member) {
  for (const auto& pending : corrections_) {
    if (pending.member.location == member.location) return;
  }
  MemberUpdate update;
  update.member = member;
  corrections_.push_back(std::move(update));
}

void SwimDetector::broadcast(MemberUpdate update) {
  const size_t size = codec_.update_size(update);
  queue_.enqueue(std::move(update), size);
  set(kQueuedUpdates, static_cast<int64_t>(queue_.size()));
}

void SwimDetector::broadcast(const Member& member, bool reported_by_self) {
  MemberUpdate update;
  update.member = member;
  if (reported_by_self) {
    update.__set_reporter(self_location_);
  }
  broadcast(std::move(update));
}

void SwimDetector::drain() {
  std::set<std::string> names;
  {
    std::lock_guard<std::mutex> lock(inbox_->mu);
    names.swap(inbox_->names);
  }
  const uint64_t refutations = table_.refutations();
  if (refutations != refutations_seen_) {
    const auto delta = static_cast<int64_t>(refutations - refutations_seen_);
    refutations_seen_ = refutations;
    add(kRefutations, delta);
    // Lifeguard: being suspected hints that we are the slow one.
    awareness_.apply_delta(static_cast<int>(std::min<int64_t>(delta, 1 << 20)));
  }
  for (const auto& name : names) {
    auto current = table_.find(name);
    if (!current) {
      suspicions_.erase(name);
      continue;
    }
    const MemberUpdate* pending = queue_.pending(name);
    if (pending == nullptr || !(pending->member == *current)) {
      // A change made elsewhere (a Thrift call, push-pull, our own refutation): spread it,
      // without a reporter. Claiming a suspicion merged from someone else's view as our own
      // would count as an independent confirmation and shorten everyone's timers.
      broadcast(*current, false);
    }
    if (name == self_name_) {
      self_left_ = current->state == MemberState::LEFT;
      continue;
    }
    auto it = suspicions_.find(name);
    if (current->state == MemberState::SUSPECT) {
      if (it == suspicions_.end() || it->second.incarnation != current->incarnation) {
        start_suspicion(*current, kUnattributed);
      }
    } else if (it != suspicions_.end()) {
      suspicions_.erase(it);
    }
  }
  set(kActiveSuspicions, static_cast<int64_t>(suspicions_.size()));
}

void SwimDetector::handle_update(const MemberUpdate& update, const std::string& sender) {
  const std::string name = MemberName(update.member.location);
  if (name == self_name_) {
    // Refutation, if needed, happens inside apply(); drain() spreads it and counts it.
    if (!table_.apply(update.member) && update.member.state != MemberState::ALIVE &&
        !self_left_) {
      // An accusation we refuted already: the sender missed the refutation.
      correct(table_.self());
    }
    return;
  }
  // Only a named reporter is an independent witness; the sender may just be passing news on.
  const std::string reporter =
      update.__isset.reporter ? MemberName(update.reporter) : std::string(kUnattributed);
  if (table_.apply(update.member)) {
    add(kUpdatesApplied);
    // Pass the news on as we heard it (its reporter too: confirmations count reporters).
    broadcast(update);
    auto it = suspicions_.find(name);
    if (update.member.state == MemberState::SUSPECT) {
      start_suspicion(update.member, reporter);
    } else if (it != suspicions_.end()) {
      suspicions_.erase(it);
      set(kActiveSuspicions, static_cast<int64_t>(suspicions_.size()));
    }
    return;
  }
  if (update.member.state != MemberState::SUSPECT && update.member.state != MemberState::DEAD) {
    return;
  }
  auto current = table_.find(name);
  if (current && current->state == MemberState::ALIVE &&
      current->incarnation > update.member.incarnation) {
    // The sender still accuses a member that has refuted: it missed the refutation (its
    // queue copies are spent). Tell it, or its own timer will declare the member dead.
    correct(*current);
    return;
  }
  if (update.member.state != MemberState::SUSPECT) return;
  // Old news to us, but maybe a new, independent suspicion of a member we already suspect.
  auto it = suspicions_.find(name);
  if (it == suspicions_.end() || it->second.incarnation != update.member.incarnation) return;
  if (reporter != kUnattributed && it->second.suspicion.confirm(reporter)) {
    VLOG(1) << "suspicion of " << name << " confirmed by " << reporter << " (via " << sender
            << ")";
    add(kConfirmations);
    arm_suspicion(name);
    broadcast(update);
  }
}

void SwimDetector::on_packet(const Location& from, const uint8_t* data, size_t size) {
  add(kPacketsReceived);
  add(kBytesReceived, static_cast<int64_t>(size));
  GossipPacket packet;
  const int64_t now_wall_ms = scheduler_.wall_ms();
  const DecodeResult result = codec_.decode(data, size, now_wall_ms, &packet);
  switch (result) {
    case DecodeResult::ok: break;
    case DecodeResult::too_short: add(kDroppedTooShort); return log_drop("too short", from);
    case DecodeResult::too_large: add(kDroppedTooLarge); return log_drop("too large", from);
    case DecodeResult::bad_mac: add(kDroppedBadMac); return log_drop("bad MAC", from);
    case DecodeResult::malformed: add(kDroppedMalformed); return log_drop("malformed", from);
    case DecodeResult::stale: add(kDroppedStale); return log_drop("stale", from);
  }
  // Only after the MAC verified: what the guard remembers was made with the cluster key, so
  // forged packets cannot fill it.
  KeyRing::Mac mac;
  std::memcpy(mac.data(), data + size - KeyRing::kMacSize, KeyRing::kMacSize);
  switch (replay_guard_.admit(mac, packet.sent_ms, now_wall_ms)) {
    case ReplayGuard::Verdict::fresh: break;
    case ReplayGuard::Verdict::replay: add(kDroppedReplay); return log_drop("replayed", from);
    case ReplayGuard::Verdict::stale:
      add(kDroppedStale);
      return log_drop("stale", from, "not newer than packets the full replay guard forgot");
  }
  const std::string sender = MemberName(packet.sender);
  if (sender == self_name_) {
    add(kDroppedMisdirected);
    return log_drop("misdirected", from, "sender claims to be this node");
  }
  if (packet.type == GossipType::PING && packet.__isset.target &&
      MemberName(packet.target) != self_name_) {
    // Meant for whoever had this endpoint before us.
    add(kDroppedMisdirected);
    return log_drop("misdirected", from, "PING for " + MemberName(packet.target));
  }
  if (!table_.find(sender)) {
    // A stranger is heard only if it introduces itself (a member that just joined through
    // another node, before that node's news reached us).
    for (const auto& update : packet.updates) {
      if (MemberName(update.member.location) == sender &&
          update.member.state == MemberState::ALIVE) {
        handle_update(update, sender);
        break;
      }
    }
    if (!table_.find(sender)) {
      add(kDroppedUnknownSender);
      return log_drop("unknown sender", from, sender);
    }
  }
  corrections_.clear();
  for (const auto& update : packet.updates) handle_update(update, sender);
  std::vector<MemberUpdate> corrections;
  corrections.swap(corrections_);
  if (!corrections.empty()) {
    add(kCorrections, static_cast<int64_t>(corrections.size()));
    if (packet.type != GossipType::PING) {
      // No reply of ours goes back: a probe (answered or not, it does no harm) carries them.
      send(GossipType::PING, ++seq_, from, sender, &packet.sender, 0, std::move(corrections));
      corrections.clear();
    }
  }

  switch (packet.type) {
    case GossipType::PING:
      send(GossipType::ACK, packet.seq, from, sender, nullptr, 0, std::move(corrections));
      break;
    case GossipType::PING_REQ: {
      const std::string target = MemberName(packet.target);
      if (target == self_name_) {
        send(GossipType::ACK, packet.seq, from, sender);
        break;
      }
      add(kRelayedProbes);
      const int64_t seq = ++seq_;
      relays_[seq] = Relay{from, sender, packet.seq};
      Location endpoint;
      endpoint.address = packet.target.address;
      endpoint.port = packet.target_gossip_port;
      send(GossipType::PING, seq, endpoint, target, &packet.target);
      after(config_.probe_timeout_ms * config_.nack_timeout_percent / 100,
            [this, seq] { on_relay_timeout(seq); });
      break;
    }
    case GossipType::ACK:
      add(kAcksReceived);
      on_ack(packet.seq);
      break;
    case GossipType::NACK:
      add(kNacksReceived);
      if (probe_.active && probe_.seq == packet.seq) ++probe_.nacks;
      break;
  }
}

void SwimDetector::send(GossipType::type type, int64_t seq, const Location& to,
                        const std::string& receiver, const Location* target,
                        int32_t target_gossip_port, std::vector<MemberUpdate> first) {
  drain();
  refresh();
  GossipPacket packet;
  packet.format = GossipCodec::kFormat;
  packet.type = type;
  packet.seq = seq;
  packet.sender = self_location_;
  packet.sent_ms = scheduler_.wall_ms();
  if (target != nullptr) packet.__set_target(*target);
  if (target_gossip_port > 0) packet.__set_target_gossip_port(target_gossip_port);
  if (self_left_) {
    // A leaving member says so in every packet: whoever it still talks to learns it first
    // hand, whatever became of the queued copies.
    MemberUpdate left;
    left.member = table_.self();
    first.insert(first.begin(), std::move(left));
  }
  size_t base = codec_.base_size(packet);
  for (auto& update : first) {
    base += codec_.update_size(update);
    packet.updates.push_back(std::move(update));
  }
  // Lifeguard's buddy system: a member we hold SUSPECT (or DEAD) hears it from us first thing,
  // whatever the queue holds, so that it can refute before the timers run out.
  if (auto about = table_.find(receiver);
      about && (about->state == MemberState::SUSPECT || about->state == MemberState::DEAD)) {
    MemberUpdate hint;
    hint.member = std::move(*about);
    base += codec_.update_size(hint);
    packet.updates.push_back(std::move(hint));
  }
  const size_t budget = base < config_.packet_size_limit ? config_.packet_size_limit - base : 0;
  for (auto& update :
       queue_.take(budget, RetransmitLimit(config_.retransmit_mult, cluster_size_))) {
    packet.updates.push_back(std::move(update));
  }
  set(kQueuedUpdates, static_cast<int64_t>(queue_.size()));
  std::string bytes;
  const int included = codec_.encode(packet, &bytes);
  if (included < 0) {
    add(kEncodeFailures);
    LOG_EVERY_N(ERROR, 100) << "gossip: cannot encode a packet for " << MemberName(to)
                            << " within " << config_.packet_size_limit << " bytes";
    return;
  }
  add(kUpdatesSent, included);
  add(kPacketsSent);
  add(kBytesSent, static_cast<int64_t>(bytes.size()));
  switch (type) {
    case GossipType::PING: add(kPingsSent); break;
    case GossipType::PING_REQ: add(kPingReqsSent); break;
    case GossipType::ACK: add(kAcksSent); break;
    case GossipType::NACK: add(kNacksSent); break;
  }
  transport_.send(to, bytes);
}

void SwimDetector::leave(int64_t timeout_ms, LeaveCallback done) {
  table_.set_self_state(MemberState::LEFT);
  drain();
  if (leave_done_) {
    auto previous = std::move(leave_done_);
    leave_done_ = nullptr;
    previous(false);
  }
  leave_seqs_.clear();
  const auto peers = pick_live(static_cast<size_t>(config_.leave_fanout), "");
  for (const auto& name : peers) {
    auto peer = table_.find(name);
    if (!peer || peer->gossip_port <= 0) continue;
    const int64_t seq = ++seq_;
    leave_seqs_.insert(seq);
    send(GossipType::PING, seq, GossipEndpoint(*peer), name, &peer->location);
  }
  if (leave_seqs_.empty()) {
    done(true);  // nobody to tell
    return;
  }
  leave_done_ = std::move(done);
  after(timeout_ms, [this] {
    if (!leave_done_) return;
    leave_seqs_.clear();
    auto pending = std::move(leave_done_);
    leave_done_ = nullptr;
    pending(false);
  });
}

std::map<std::string, int64_t> SwimDetector::stats() const {
  std::map<std::string, int64_t> out;
  for (int i = 0; i < kCounterCount; ++i) {
    out[kCounterNames[i]] = counters_[i].load(std::memory_order_relaxed);
  }
  return out;
}

void SwimDetector::log_drop(const char* what, const Location& from, const std::string& detail) {
  // At most 5 lines a second: a flood of bad packets must not become a flood of logs.
  const int64_t now = scheduler_.now_ms();
  if (now - drop_log_window_ms_ >= 1000) {
    drop_log_window_ms_ = now;
    drops_logged_ = 0;
  }
  if (drops_logged_ >= 5) {
    ++drops_suppressed_;
    return;
  }
  ++drops_logged_;
  LOG(WARNING) << "gossip: dropped " << what << " packet from " << MemberName(from)
               << (detail.empty() ? "" : " (" + detail + ")")
               << (drops_suppressed_ > 0
                       ? "; " + std::to_string(drops_suppressed_) + " more drops not logged"
                       : "");
  drops_suppressed_ = 0;
}

}  // namespace thrifty::membership
