// RequestRouter with replicas (--replicas > 1): writes go to each key's leader (its first live
// replica: this node's ReplicaWriter, or one hop away with owner_put), which stamps them and
// waits for W replicas; a peer's owner_put of unversioned records is led here.
#include <thrift/transport/TTransportException.h>

#include "diststore/service/replica_set.h"
#include "diststore/service/request_router.h"
#include "locator/membership/member_table.h"

namespace thrifty::diststore {

using membership::MemberName;

void RequestRouter::owner_put_async(std::vector<wire::Record> records, Consistency level,
                                    rpc::OutcomeHandler<bool> done) {
  if (!replicated()) return owner_.owner_put_async(std::move(records), std::move(done));
  std::vector<wire::Record> to_lead, copies;
  for (auto& r : records) (r.version == 0 ? to_lead : copies).push_back(std::move(r));
  const auto checked = rpc::OutcomeOf<bool>([&] {
    if (!to_lead.empty()) {
      CheckBatch(limits_, to_lead.size());
      for (const auto& r : to_lead) {
        CheckKey(limits_, r.key);
        if (!r.tombstone) CheckValue(limits_, r.key, r.value);
      }
    }
    return true;
  });
  if (checked.error) return done(checked);
  // This node's copies (stored here, or handed on to replicas a newer view gives them), then
  // the records it leads: the leader's wait for the other replicas holds no thread, `done`
  // answers the peer.
  auto lead = [this, to_lead = std::move(to_lead), level,
               done = std::move(done)](rpc::Outcome<bool> stored) mutable {
    if (stored.error || to_lead.empty()) return done(std::move(stored));
    writer_.lead_async(*cluster_.snapshot(), std::move(to_lead),
                       Resolve(level, replication_.write), std::move(done));
  };
  if (copies.empty()) return lead(rpc::Outcome<bool>{true, nullptr});
  owner_.owner_put_async(std::move(copies), std::move(lead));
}

void RequestRouter::write_via_leaders(std::shared_ptr<const locator::ClusterSnapshot> snapshot,
                                      std::vector<wire::Record> records, Consistency level,
                                      std::set<std::string> unreachable,
                                      rpc::OutcomeHandler<bool> done) {
  const ReplicaPlacement placement(*snapshot, static_cast<size_t>(replication_.replicas),
                                   moving_.draining());
  const size_t required = RequiredReplies(level, placement.effective_n());
  // Each key's leader: its first live replica that has not failed this request yet.
  std::map<std::string, OwnerGroup<wire::Record>> by_leader;
  try {
    for (size_t i = 0; i < records.size(); ++i) {
      const ReplicaSet set = placement.of(records[i].key);
      int leader = -1;
      for (size_t r = 0; r < set.size() && leader < 0; ++r) {
        if (set.alive[r] && unreachable.count(set.names[r]) == 0) leader = static_cast<int>(r);
      }
      if (leader < 0 && unreachable.empty()) {  // none alive: nothing was sent
        ++counters_.unavailable;
        ThrowUnavailable("write at " + ConsistencyName(level) + " of key '" + records[i].key + "'",
                         required, 0);
      }
      if (leader < 0) {
        ++counters_.errors;
        ++counters_.timed_out;
        ThrowTimedOut("write at " + ConsistencyName(level) + " of key '" + records[i].key +
                          "': no live replica could be reached to lead it",
                      required, 0);
      }
      auto& group = by_leader[set.names[static_cast<size_t>(leader)]];
      group.owner = set.replicas[static_cast<size_t>(leader)];
      group.items.push_back(std::move(records[i]));
      group.indexes.push_back(i);
    }
  } catch (...) {
    return done(rpc::Outcome<bool>{std::nullopt, std::current_exception()});
  }
  std::vector<std::pair<locator::wire::Location, StartCall<bool>>> calls;
  for (auto& [name, group] : by_leader) {
    auto items = std::make_shared<std::vector<wire::Record>>(std::move(group.items));
    if (name == self_name_) {
      calls.emplace_back(group.owner, [this, snapshot, items, level](auto led) {
        writer_.lead_async(*snapshot, std::move(*items), level, std::move(led));
      });
      continue;
    }
    ++counters_.forwarded;
    calls.emplace_back(group.owner, [this, life = life_.watch(), snapshot, items, level,
                                     unreachable, leader = group.owner,
                                     required](auto led) {
      peers_.owner_put_async(leader, *items, level, [=](rpc::Outcome<bool> outcome) {
        if (outcome.value) return led(std::move(outcome));
        try {
          std::rethrow_exception(outcome.error);
        } catch (const wire::StoreError&) {
          return led(std::move(outcome));  // the leader's own answers, for the client
        } catch (const wire::Unavailable&) {
          return led(std::move(outcome));
        } catch (const wire::TimedOut&) {
          return led(std::move(outcome));
        } catch (...) {
        }
        // The call failed: reporting it may block (and the next leader's write starts from
        // there), so not on the channel's loop.
        Lifetime::Hold hold(life);
        if (!hold) return led(std::move(outcome));
        fan_out_.submit([=]() mutable {
          Lifetime::Hold still(life);
          if (!still) return led(std::move(outcome));
          try {
            std::rethrow_exception(outcome.error);
          } catch (const apache::thrift::transport::TTransportException& e) {
            // No connection to the leader, or it closed the connection (it crashed or
            // stopped) before answering: the next live replica leads. (A replica, not this
            // node: it has seen the key's versions, so its clock stamps above them.) Applying
            // an unacknowledged write once more is safe: it is the same write, stamped later.
            // A call that timed out is not sent again (the leader may be running it): the
            // client hears TimedOut.
            using apache::thrift::transport::TTransportException;
            if (e.getType() == TTransportException::NOT_OPEN ||
                e.getType() == TTransportException::END_OF_FILE) {
              cluster_.report_failure(leader);
              std::set<std::string> failed = unreachable;
              failed.insert(MemberName(leader));
              return write_via_leaders(snapshot, std::move(*items), level, std::move(failed),
                                       std::move(led));
            }
          } catch (...) {
          }
          led(rpc::Outcome<bool>{std::nullopt, rpc::OutcomeOf<bool>([&]() -> bool {
                                   std::string why;
                                   try {
                                     std::rethrow_exception(outcome.error);
                                   } catch (const std::exception& e) {
                                     why = cluster_.owner_unreachable(leader, e);
                                   } catch (...) {
                                     why = "unknown error";
                                   }
                                   ++counters_.errors;
                                   ++counters_.timed_out;
                                   ThrowTimedOut("write at " + ConsistencyName(level) +
                                                     " led by " + rpc::ToString(leader) + ": " +
                                                     why,
                                                 required, 0);
                                 }).error});
        });
      });
    });
  }
  // The first failure in leader order is the request's.
  StartScatterCalls<bool>(std::move(calls), [done = std::move(done)](auto outcomes) {
    for (auto& outcome : outcomes) {
      if (outcome.error) return done(rpc::Outcome<bool>{std::nullopt, outcome.error});
    }
    done(rpc::Outcome<bool>{true, nullptr});
  });
}

}  // namespace thrifty::diststore
