// RequestRouter's continuation forms (get_async, put_async): with replicas, the reader's and
// the leaders' asynchronous paths; with one copy, get_on and write_on for one key with the
// owner's answer taken by a completion instead of a waiting thread, and the reroute of
// routed().
#include <boost/asio/post.hpp>
#include <glog/logging.h>

#include "diststore/service/request_router.h"
#include "locator/membership/member_table.h"

namespace thrifty::diststore {

using membership::MemberName;

namespace {

template <class Result>
rpc::Outcome<Result> Failed(std::exception_ptr error) {
  rpc::Outcome<Result> outcome;
  outcome.error = std::move(error);
  return outcome;
}

template <class Result>
rpc::Outcome<Result> Succeeded(Result value) {
  rpc::Outcome<Result> outcome;
  outcome.value.emplace(std::move(value));
  return outcome;
}

std::exception_ptr StoreErrorOf(const std::string& message) {
  try {
    ThrowStoreError(message);
  } catch (...) {
    return std::current_exception();
  }
  return nullptr;
}

// A StoreError: what routed() reroutes on (the owner's answer, or "unreachable").
bool IsStoreError(const std::exception_ptr& error) {
  if (!error) return false;
  try {
    std::rethrow_exception(error);
  } catch (const wire::StoreError&) {
    return true;
  } catch (...) {
  }
  return false;
}

}  // namespace

std::shared_ptr<const locator::ClusterSnapshot> RequestRouter::reroute(
    const locator::ClusterSnapshot& before, bool rerouted) {
  if (rerouted) return nullptr;
  auto now = cluster_.snapshot();
  const auto& now_ring = moving_.routing_ring(*now);
  if (now_ring->empty() || now_ring->signature() == moving_.routing_ring(before)->signature()) {
    return nullptr;
  }
  ++counters_.rerouted;
  return now;
}

void RequestRouter::get_async(std::string key, Consistency level,
                              rpc::OutcomeHandler<std::string> done) {
  try {
    CheckKey(limits_, key);
  } catch (...) {
    done(Failed<std::string>(std::current_exception()));
    return;
  }
  ++counters_.gets;
  if (replicated()) {
    reader_.read_async(
        *cluster_.snapshot(), {key}, Resolve(level, replication_.read),
        [this, key, done = std::move(done)](rpc::Outcome<ReplicaReader::Found> found) {
          if (found.error) return done(Failed<std::string>(found.error));
          auto& record = found.value->at(0);
          if (!record || record->tombstone) {
            ++counters_.not_found;
            wire::NotFound missing;
            missing.key = key;
            return done(Failed<std::string>(std::make_exception_ptr(missing)));
          }
          done(Succeeded<std::string>(std::move(record->value)));
        });
    return;
  }
  get_async_on(std::move(key), cluster_.snapshot(), false, std::move(done));
}

void RequestRouter::get_async_on(std::string key,
                                 std::shared_ptr<const locator::ClusterSnapshot> snapshot,
                                 bool rerouted, rpc::OutcomeHandler<std::string> done) {
  const auto& ring = moving_.routing_ring(*snapshot);
  if (ring->empty()) {
    done(Failed<std::string>(StoreErrorOf("no node in the ring")));
    return;
  }
  const locator::wire::Location owner = ring->owner(key);
  if (MemberName(owner) == self_name_) {
    auto outcome = rpc::OutcomeOf<std::string>([&] { return get_on(*snapshot, *ring, key); });
    if (IsStoreError(outcome.error)) {
      if (auto now = reroute(*snapshot, rerouted)) {
        return get_async_on(std::move(key), std::move(now), true, std::move(done));
      }
    }
    done(std::move(outcome));
    return;
  }
  ++counters_.forwarded;
  peers_.owner_get_async(
      owner, {key}, true,
      [this, key, snapshot, owner, rerouted,
       done = std::move(done)](rpc::Outcome<std::vector<wire::Record>> answer) mutable {
        if (answer.error) {
          ++counters_.errors;
          const std::string why = describe_failure(owner, answer.error);
          if (auto now = reroute(*snapshot, rerouted)) {
            // Not here, on a peer channel's loop: the new owner may be this node, whose read
            // can wait on other peers (fallback holders) through this very loop.
            boost::asio::post(fan_out_.executor(), [this, key = std::move(key),
                                                    now = std::move(now),
                                                    done = std::move(done)]() mutable {
              get_async_on(std::move(key), std::move(now), true, std::move(done));
            });
            return;
          }
          return done(Failed<std::string>(StoreErrorOf(why)));
        }
        const std::vector<wire::Record>& records = *answer.value;
        if (records.empty() || records.front().tombstone) {
          ++counters_.not_found;
          wire::NotFound missing;
          missing.key = key;
          return done(Failed<std::string>(std::make_exception_ptr(missing)));
        }
        done(Succeeded<std::string>(records.front().value));
      });
}

void RequestRouter::put_async(std::string key, std::string value, Consistency level,
                              rpc::OutcomeHandler<bool> done) {
  try {
    CheckKey(limits_, key);
    CheckValue(limits_, key, value);
  } catch (...) {
    done(Failed<bool>(std::current_exception()));
    return;
  }
  ++counters_.puts;
  wire::Record r;
  r.key = std::move(key);
  r.value = std::move(value);
  r.version = 0;  // stamped by the owner (the leader, with replicas)
  if (replicated()) {
    write_via_leaders(cluster_.snapshot(), {std::move(r)}, Resolve(level, replication_.write), {},
                      std::move(done));
    return;
  }
  put_async_on(std::move(r), cluster_.snapshot(), false, std::move(done));
}

void RequestRouter::erase_async(std::string key, Consistency level,
                                rpc::OutcomeHandler<bool> done) {
  try {
    CheckKey(limits_, key);
  } catch (...) {
    done(Failed<bool>(std::current_exception()));
    return;
  }
  ++counters_.erases;
  wire::Record r;
  r.key = std::move(key);
  r.tombstone = true;
  r.version = 0;
  if (replicated()) {
    write_via_leaders(cluster_.snapshot(), {std::move(r)}, Resolve(level, replication_.write), {},
                      std::move(done));
    return;
  }
  put_async_on(std::move(r), cluster_.snapshot(), false, std::move(done));
}

void RequestRouter::put_async_on(wire::Record record,
                                 std::shared_ptr<const locator::ClusterSnapshot> snapshot,
                                 bool rerouted, rpc::OutcomeHandler<bool> done) {
  const auto& ring = moving_.routing_ring(*snapshot);
  if (ring->empty()) {
    done(Failed<bool>(StoreErrorOf("no node in the ring")));
    return;
  }
  const locator::wire::Location owner = ring->owner(record.key);
  if (MemberName(owner) == self_name_) {
    auto outcome = rpc::OutcomeOf<bool>([&] {
      owner_.write(*snapshot, {record});
      return true;
    });
    if (IsStoreError(outcome.error)) {
      if (auto now = reroute(*snapshot, rerouted)) {
        return put_async_on(std::move(record), std::move(now), true, std::move(done));
      }
    }
    done(std::move(outcome));
    return;
  }
  ++counters_.forwarded;
  // Applying a write once more after a failure is safe: the owner stamps it again, later.
  peers_.owner_put_async(
      owner, {record}, wire::Consistency::DEFAULT,
      [this, record, snapshot, owner, rerouted,
       done = std::move(done)](rpc::Outcome<bool> answer) mutable {
        if (!answer.error) return done(std::move(answer));
        ++counters_.errors;
        const std::string why = describe_failure(owner, answer.error);
        if (auto now = reroute(*snapshot, rerouted)) {
          // Off the channel's loop, as a get's reroute.
          boost::asio::post(fan_out_.executor(), [this, record = std::move(record),
                                                  now = std::move(now),
                                                  done = std::move(done)]() mutable {
            put_async_on(std::move(record), std::move(now), true, std::move(done));
          });
          return;
        }
        done(Failed<bool>(StoreErrorOf(why)));
      });
}

}  // namespace thrifty::diststore
