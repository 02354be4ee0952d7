// MemberTable: this node's view of every member of the cluster, and the rules that decide
// which of two statements about a member is newer (SWIM / memberlist precedence).
//
// Thread-safe. Listeners run on the thread that made the change, after the table's lock is
// released, in the order the changes were made on that thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "locator_types.h"

namespace thrifty::membership {

using locator::wire::Location;
using locator::wire::Member;
using locator::wire::MemberState;

// "host:port": the name of a member everywhere (logs, ring nodes, maps).
std::string MemberName(const Location& location);
const char* StateName(MemberState::type state);

// Rank used when two statements carry the same incarnation: the later state in a member's
// life wins (ALIVE < SUSPECT < DEAD, LEFT).
int StateRank(MemberState::type state);

class MemberTable {
 public:
  // `before` is empty when the member was unknown.
  using Listener = std::function<void(const std::optional<Member>& before, const Member& after)>;
  using ListenerId = uint64_t;
  using Clock = std::function<int64_t()>;

  // `self` must be ALIVE with a location; its incarnation should grow across restarts
  // (the node uses its start time in ms) so that a restarted node overrides its old death.
  // `clock` (ms) dates state changes for reap(); NowMs when empty (simulations pass their own).
  explicit MemberTable(Member self, Clock clock = nullptr);

  MemberTable(const MemberTable&) = delete;
  MemberTable& operator=(const MemberTable&) = delete;

  // Applies what another node says about a member. Returns true if the table changed.
  // - an unknown member is added if ALIVE or SUSPECT (news of the death of a stranger is
  //   dropped);
  // - a known member takes the statement if its incarnation is higher, or equal with a higher
  //   state rank;
  // - a statement that this node is SUSPECT, DEAD or LEFT at an incarnation >= its own is
  //   refuted: self's incarnation becomes that incarnation + 1, still ALIVE (listeners see
  //   self change, which the gossip layer must spread). So is an ALIVE statement about this
  //   node that it did not make: a higher incarnation, or the same one with other metadata or
  //   gossip port (left over from a previous run at this address), since it would otherwise
  //   override what this node says about itself. Not while this node is leaving (LEFT).
  bool apply(const Member& statement);
  // apply(), except that a DEAD member this table does not know is added (as DEAD), which
  // apply() ignores (so that gossip does not bring back members reaped here). For a view a
  // node learns when it joins: a DEAD member still holds its place among the replicas on the
  // other nodes, and a joiner that left it out would place replicas differently.
  bool learn(const Member& statement);

  // Changes about this node itself; each bumps self's incarnation so it overrides older news.
  Member set_self_metadata(const std::string& key, const std::string& value);
  Member set_self_state(MemberState::type state);  // LEFT on a clean leave

  // This node's own failure detector's verdicts about others, at the incarnation it knows.
  // Returns false if the member is unknown or already in that state or a later one.
  bool mark(const std::string& name, MemberState::type state);

  // Drops DEAD and LEFT members whose state is older than `age_ms` (on the table's clock).
  // A dropped member is a stranger again: any later ALIVE or SUSPECT statement about it adds
  // it back whatever its incarnation, so reap only after the news of its end has stopped
  // spreading. Listeners are not called; the reap hook is, after members were dropped.
  // Returns how many were dropped.
  size_t reap(int64_t now_ms, int64_t age_ms);
  // Called (outside the table's lock, on the reaping thread) after reap() dropped members.
  // Set it before the table is shared between threads.
  void set_reap_hook(std::function<void()> hook) { reap_hook_ = std::move(hook); }

  Member self() const;
  std::string self_name() const;
  std::optional<Member> find(const std::string& name) const;
  std::vector<Member> all() const;          // every member, self included, by name
  std::vector<Member> in_ring() const;      // ALIVE and SUSPECT members, self included
  // A number that grows with every change (cheap check for "did anything change").
  uint64_t generation() const;
  // Every member with the generation they are the state of, read under one lock: what a
  // snapshot of the cluster is built from.
  std::pair<uint64_t, std::vector<Member>> versioned() const;
  // How many times apply() refuted a statement about this node (see apply()).
  uint64_t refutations() const;

  // Members in the ring (ALIVE and SUSPECT), self included, without copying them.
  size_t in_ring_count() const;
  // Every member's name and state, by name: a cheap snapshot (no metadata copied).
  std::vector<std::pair<std::string, MemberState::type>> states() const;

  // Listeners are called for every change (not for reap). The id removes it again; a call
  // already under way on another thread may still finish after remove_listener returns.
  ListenerId add_listener(Listener listener);
  void remove_listener(ListenerId id);

 private:
  struct Entry {
    Member member;
    int64_t state_since_ms = 0;
  };
  using Notification = std::pair<std::optional<Member>, Member>;

  bool apply_locked(const Member& statement, std::vector<Notification>* out,
                    bool learn_dead = false);
  void notify(const std::vector<Notification>& changes);

  mutable std::mutex mu_;
  Clock clock_;
  std::string self_name_;
  std::map<std::string, Entry> members_;
  uint64_t generation_ = 0;
  uint64_t refutations_ = 0;
  std::vector<std::pair<ListenerId, Listener>> listeners_;  // guarded by listeners_mu_
  ListenerId next_listener_id_ = 1;                          // guarded by listeners_mu_
  mutable std::mutex listeners_mu_;
  std::function<void()> reap_hook_;
};

int64_t NowMs();  // wall clock, milliseconds since the epoch

// The one in-ring rule: ALIVE and SUSPECT members own keys; DEAD and LEFT ones do not.
inline bool InRing(MemberState::type state) {
  return state == MemberState::ALIVE || state == MemberState::SUSPECT;
}
// The members of `members` that are in the ring, in order.
std::vector<Member> InRingMembers(const std::vector<Member>& members);

}  // namespace thrifty::membership
