#include "locator/membership/broadcast_queue.h"

#include "locator/membership/member_table.h"

namespace thrifty::membership {

bool BroadcastQueue::enqueue(wire::MemberUpdate update, size_t size) {
  std::string name = MemberName(update.member.location);
  auto it = by_name_.find(name);
  if (it != by_name_.end()) {
    const locator::wire::Member& old = items_.at(it->second).update.member;
    const locator::wire::Member& now = update.member;
    const bool old_is_newer =
        old.incarnation > now.incarnation ||
        (old.incarnation == now.incarnation && StateRank(old.state) > StateRank(now.state));
    if (old_is_newer) return false;
    erase(it->second);
  }
  const uint64_t id = next_id_++;
  order_.emplace(0, id);
  by_name_[name] = id;
  items_.emplace(id, Item{std::move(name), std::move(update), size, 0});
  return true;
}

std::vector<wire::MemberUpdate> BroadcastQueue::take(size_t budget, int limit) {
  std::vector<wire::MemberUpdate> out;
  std::vector<std::pair<int, uint64_t>> sent;
  for (const auto& key : order_) {
    const Item& item = items_.at(key.second);
    if (item.size > budget) continue;
    budget -= item.size;
    out.push_back(item.update);
    sent.push_back(key);
  }
  for (const auto& key : sent) {
    order_.erase(key);
    Item& item = items_.at(key.second);
    if (++item.transmits >= limit) {
      by_name_.erase(item.name);
      items_.erase(key.second);
    } else {
      order_.emplace(item.transmits, key.second);
    }
  }
  return out;
}

const wire::MemberUpdate* BroadcastQueue::pending(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &items_.at(it->second).update;
}

int BroadcastQueue::transmits(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? -1 : items_.at(it->second).transmits;
}

void BroadcastQueue::erase(uint64_t id) {
  auto it = items_.find(id);
  if (it == items_.end()) return;
  order_.erase({it->second.transmits, id});
  by_name_.erase(it->second.name);
  items_.erase(it);
}

}  // namespace thrifty::membership
