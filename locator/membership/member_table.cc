#include "locator/membership/member_table.h"

#include <chrono>
#include <stdexcept>

namespace thrifty::membership {

std::vector<Member> InRingMembers(const std::vector<Member>& members) {
  std::vector<Member> out;
  for (const Member& m : members) {
    if (InRing(m.state)) out.push_back(m);
  }
  return out;
}

std::string MemberName(const Location& location) {
  return location.address + ":" + std::to_string(location.port);
}

const char* StateName(MemberState::type state) {
  switch (state) {
    case MemberState::ALIVE: return "ALIVE";
    case MemberState::SUSPECT: return "SUSPECT";
    case MemberState::DEAD: return "DEAD";
    case MemberState::LEFT: return "LEFT";
  }
  return "UNKNOWN";
}

int StateRank(MemberState::type state) {
  switch (state) {
    case MemberState::ALIVE: return 0;
    case MemberState::SUSPECT: return 1;
    case MemberState::DEAD: return 2;
    case MemberState::LEFT: return 2;
  }
  return 0;
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch()).count();
}

MemberTable::MemberTable(Member self, Clock clock)
    : clock_(clock ? std::move(clock) : Clock(NowMs)), self_name_(MemberName(self.location)) {
  if (self.location.address.empty() || self.location.port <= 0) {
    throw std::invalid_argument("MemberTable: self needs an address and a port");
  }
  self.state = MemberState::ALIVE;
  members_[self_name_] = Entry{std::move(self), clock_()};
}

bool MemberTable::apply(const Member& statement) {
  std::vector<Notification> changes;
  bool changed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    changed = apply_locked(statement, &changes);
  }
  notify(changes);
  return changed;
}

bool MemberTable::learn(const Member& statement) {
  std::vector<Notification> changes;
  bool changed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    changed = apply_locked(statement, &changes, true);
  }
  notify(changes);
  return changed;
}

bool MemberTable::apply_locked(const Member& statement, std::vector<Notification>* out,
                               bool learn_dead) {
  const std::string name = MemberName(statement.location);
  auto it = members_.find(name);
  if (name == self_name_) {
    Member& self = it->second.member;
    if (self.state == MemberState::LEFT) return false;
    if (statement.incarnation < self.incarnation) return false;  // old news
    if (statement.state == MemberState::ALIVE && statement.incarnation == self.incarnation &&
        statement.metadata == self.metadata && statement.gossip_port == self.gossip_port) {
      return false;  // what we say ourselves
    }
    // Someone believes we are suspect or dead, or holds a record of us we did not make (a
    // previous run's): override it with a higher incarnation.
    Member before = self;
    self.incarnation = statement.incarnation + 1;
    ++generation_;
    ++refutations_;
    out->emplace_back(std::move(before), self);
    return true;
  }
  if (it == members_.end()) {
    if (statement.state == MemberState::LEFT) return false;
    if (statement.state == MemberState::DEAD && !learn_dead) return false;
    members_[name] = Entry{statement, clock_()};
    ++generation_;
    out->emplace_back(std::nullopt, statement);
    return true;
  }
  Member& current = it->second.member;
  const bool newer = statement.incarnation > current.incarnation ||
                     (statement.incarnation == current.incarnation &&
                      StateRank(statement.state) > StateRank(current.state));
  if (!newer) return false;
  Member before = current;
  const bool state_changed = current.state != statement.state;
  current = statement;
  if (state_changed) it->second.state_since_ms = clock_();
  ++generation_;
  out->emplace_back(std::move(before), current);
  return true;
}

Member MemberTable::set_self_metadata(const std::string& key, const std::string& value) {
  std::vector<Notification> changes;
  Member result;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Member& self = members_[self_name_].member;
    Member before = self;
    self.metadata[key] = value;
    ++self.incarnation;
    ++generation_;
    result = self;
    changes.emplace_back(std::move(before), self);
  }
  notify(changes);
  return result;
}

Member MemberTable::set_self_state(MemberState::type state) {
  std::vector<Notification> changes;
  Member result;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Entry& entry = members_[self_name_];
    Member before = entry.member;
    entry.member.state = state;
    ++entry.member.incarnation;
    entry.state_since_ms = clock_();
    ++generation_;
    result = entry.member;
    changes.emplace_back(std::move(before), entry.member);
  }
  notify(changes);
  return result;
}

bool MemberTable::mark(const std::string& name, MemberState::type state) {
  std::vector<Notification> changes;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = members_.find(name);
    if (it == members_.end() || name == self_name_) return false;
    if (StateRank(it->second.member.state) >= StateRank(state)) return false;
    Member statement = it->second.member;
    statement.state = state;
    apply_locked(statement, &changes);
  }
  notify(changes);
  return !changes.empty();
}

size_t MemberTable::reap(int64_t now_ms, int64_t age_ms) {
  std::unique_lock<std::mutex> lock(mu_);
  size_t dropped = 0;
  for (auto it = members_.begin(); it != members_.end();) {
    const Member& m = it->second.member;
    const bool gone = m.state == MemberState::DEAD || m.state == MemberState::LEFT;
    if (it->first != self_name_ && gone && now_ms - it->second.state_since_ms >= age_ms) {
      it = members_.erase(it);
      ++dropped;
    } else {
      ++it;
    }
  }
  if (dropped) ++generation_;
  lock.unlock();
  if (dropped && reap_hook_) reap_hook_();
  return dropped;
}

Member MemberTable::self() const {
  std::lock_guard<std::mutex> lock(mu_);
  return members_.at(self_name_).member;
}

std::string MemberTable::self_name() const { return self_name_; }

std::optional<Member> MemberTable::find(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = members_.find(name);
  if (it == members_.end()) return std::nullopt;
  return it->second.member;
}

std::vector<Member> MemberTable::all() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Member> out;
  out.reserve(members_.size());
  for (const auto& [name, entry] : members_) out.push_back(entry.member);
  return out;
}

std::vector<Member> MemberTable::in_ring() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Member> out;
  for (const auto& [name, entry] : members_) {
    const auto state = entry.member.state;
    if (InRing(state)) out.push_back(entry.member);
  }
  return out;
}

std::pair<uint64_t, std::vector<Member>> MemberTable::versioned() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Member> out;
  out.reserve(members_.size());
  for (const auto& [name, entry] : members_) out.push_back(entry.member);
  return {generation_, std::move(out)};
}

uint64_t MemberTable::generation() const {
  std::lock_guard<std::mutex> lock(mu_);
  return generation_;
}

uint64_t MemberTable::refutations() const {
  std::lock_guard<std::mutex> lock(mu_);
  return refutations_;
}

size_t MemberTable::in_ring_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = 0;
  for (const auto& [name, entry] : members_) {
    const auto state = entry.member.state;
    if (InRing(state)) ++n;
  }
  return n;
}

std::vector<std::pair<std::string, MemberState::type>> MemberTable::states() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::pair<std::string, MemberState::type>> out;
  out.reserve(members_.size());
  for (const auto& [name, entry] : members_) out.emplace_back(name, entry.member.state);
  return out;
}

MemberTable::ListenerId MemberTable::add_listener(Listener listener) {
  std::lock_guard<std::mutex> lock(listeners_mu_);
  const ListenerId id = next_listener_id_++;
  listeners_.emplace_back(id, std::move(listener));
  return id;
}

void MemberTable::remove_listener(ListenerId id) {
  std::lock_guard<std::mutex> lock(listeners_mu_);
  for (auto it = listeners_.begin(); it != listeners_.end(); ++it) {
    if (it->first == id) {
      listeners_.erase(it);
      return;
    }
  }
}

void MemberTable::notify(const std::vector<Notification>& changes) {
  if (changes.empty()) return;
  std::vector<std::pair<ListenerId, Listener>> listeners;
  {
    std::lock_guard<std::mutex> lock(listeners_mu_);
    listeners = listeners_;
  }
  for (const auto& [before, after] : changes) {
    for (const auto& listener : listeners) listener.second(before, after);
  }
}

}  // namespace thrifty::membership
