// GroupCommit: lets the writes of many threads reach storage together (group commit, as
// LevelDB's and RocksDB's writers do). A caller hands in its write and waits; the caller at the
// head of the line becomes the leader: it takes every write queued behind it (up to a size
// bound), commits them with one call on its own thread, wakes their callers and hands the
// lead to the next in line. Writes that arrive while a group commits form the next group, so
// under load a group is as large as what arrived during the previous one, and a lone caller
// commits its own write at once, without waiting for anyone.
//
// Thread-safe. The commit function runs on one thread at a time, for groups in arrival
// order: a write whose run() began after another's run() returned is committed after it.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <vector>

namespace thrifty::storage {

template <typename Write>
class GroupCommit {
 public:
  // A group takes writes while their weights add up to at most `max_group_weight` (the
  // leader's own write always, whatever its weight).
  explicit GroupCommit(size_t max_group_weight) : max_group_weight_(max_group_weight) {}

  GroupCommit(const GroupCommit&) = delete;
  GroupCommit& operator=(const GroupCommit&) = delete;

  // Commits `write` in a group: calls commit(group), where group is a
  // const std::vector<Write*>& in arrival order that holds `write`, on this thread or on
  // another caller's, and returns once that call has returned. commit must not throw (a
  // throw ends the process): it reports each write's outcome in the write itself.
  template <typename Commit>
  void run(Write* write, size_t weight, Commit&& commit) {
    Waiter me(write, weight);
    std::unique_lock<std::mutex> lock(mu_);
    queue_.push_back(&me);
    me.wake.wait(lock, [&] { return me.done || queue_.front() == &me; });
    if (me.done) return;  // a leader committed it

    std::vector<Write*> group;
    size_t total = 0;
    for (Waiter* waiter : queue_) {
      if (!group.empty() && total + waiter->weight > max_group_weight_) break;
      group.push_back(waiter->write);
      total += waiter->weight;
    }
    committing_ = group.size();
    lock.unlock();
    [&]() noexcept { commit(static_cast<const std::vector<Write*>&>(group)); }();
    lock.lock();
    for (size_t i = 0; i < group.size(); ++i) {
      Waiter* waiter = queue_.front();
      queue_.pop_front();
      waiter->done = true;
      // Under mu_: a waiter cannot return (and destroy its condition variable) before
      // this thread lets go of mu_.
      if (waiter != &me) waiter->wake.notify_one();
    }
    committing_ = 0;
    if (!queue_.empty()) queue_.front()->wake.notify_one();  // the next leader
  }

  // Writes waiting for a group to take them (not those of the group committing now).
  size_t waiting() const {
    std::lock_guard<std::mutex> lock(mu_);
    return queue_.size() - committing_;
  }

 private:
  struct Waiter {
    Waiter(Write* w, size_t wt) : write(w), weight(wt) {}
    Write* write;
    size_t weight;
    bool done = false;
    std::condition_variable wake;
  };

  const size_t max_group_weight_;
  mutable std::mutex mu_;
  std::deque<Waiter*> queue_;  // head: the leader; guarded by mu_
  size_t committing_ = 0;      // writes at the head that the leader has taken; guarded by mu_
};

}  // namespace thrifty::storage
