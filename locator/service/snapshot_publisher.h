// SnapshotPublisher: turns member-table generations into published ClusterSnapshots.
//
// One publisher per node. publish() builds the snapshot of the table's current generation
// and publishes it unless one as new is out already, so snapshots go out in generation order
// whichever threads publish; ring listeners are called after each published snapshot whose
// ring, or ring with DEAD members (ClusterSnapshot::placement_differs), changed, in that
// order, one at a time. Threads that must not build rings (the failure
// detector's) call request(): the publisher's own thread publishes soon after.
//
// Thread-safe. Listeners must not block for long nor change the member table.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "locator/membership/member_table.h"
#include "locator/service/cluster_snapshot.h"

namespace thrifty::locator {

class SnapshotPublisher {
 public:
  using Listener = std::function<void(const std::shared_ptr<const ClusterSnapshot>& before,
                                      const std::shared_ptr<const ClusterSnapshot>& after)>;

  // Publishes the table's current generation at once and starts the publisher thread.
  // `table` must outlive this object. Throws placement::PlacementError for a bad placement.
  SnapshotPublisher(membership::MemberTable& table, std::string self_name, std::string placement);
  ~SnapshotPublisher();  // stop()
  SnapshotPublisher(const SnapshotPublisher&) = delete;
  SnapshotPublisher& operator=(const SnapshotPublisher&) = delete;

  // The latest published snapshot; never null.
  std::shared_ptr<const ClusterSnapshot> current() const;
  // Publishes the table's current generation now, on this thread (no-op if it is out).
  void publish();
  // Asks the publisher thread to publish soon. Cheap; requests coalesce.
  void request();
  void add_listener(Listener listener);
  // Stops the publisher thread (idempotent); publish() still works afterwards.
  void stop();

 private:
  void loop();

  membership::MemberTable& table_;
  const std::string self_name_;
  const std::string placement_;
  std::mutex publish_mu_;  // one publisher at a time; listeners run under it, in order
  std::vector<Listener> listeners_;  // guarded by publish_mu_
  mutable std::mutex current_mu_;
  std::shared_ptr<const ClusterSnapshot> current_;
  std::mutex thread_mu_;
  std::condition_variable thread_cv_;
  bool requested_ = false;  // guarded by thread_mu_
  bool stopping_ = false;   // guarded by thread_mu_
  std::thread thread_;
};

}  // namespace thrifty::locator
