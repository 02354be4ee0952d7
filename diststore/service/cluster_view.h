// ClusterView: what the store's service layer needs of the cluster, and nothing more: the
// current ClusterSnapshot, who this node is, and where to report a peer that failed a call.
//
// A seam: the node passes NodeClusterView (its LocatorNode); unit tests pass a fake whose
// snapshots they build by hand. Every method is thread-safe.
#pragma once

#include <memory>
#include <string>

#include "locator/service/cluster_snapshot.h"
#include "locator/service/locator_node.h"

namespace thrifty::diststore {

using locator::wire::Location;

class ClusterView {
 public:
  virtual ~ClusterView() = default;
  // The cluster as of the latest membership generation; never null.
  virtual std::shared_ptr<const locator::ClusterSnapshot> snapshot() const = 0;
  virtual const Location& self() const = 0;
  // A call to `peer` failed (without gossip, enough in a row declare it DEAD) / succeeded.
  virtual void report_failure(const Location& peer) = 0;
  virtual void report_success(const Location& peer) = 0;

  // "host:port" of self().
  std::string self_name() const;
  // A call to the owner failed (`e`, not an answer of its own): reports it, logs it, and
  // returns what the client is told.
  std::string owner_unreachable(const Location& owner, const std::exception& e);
  bool is_self(const Location& location) const;
};

// The view of a running LocatorNode (which must outlive it).
class NodeClusterView : public ClusterView {
 public:
  explicit NodeClusterView(locator::LocatorNode& node) : node_(node) {}
  std::shared_ptr<const locator::ClusterSnapshot> snapshot() const override {
    return node_.snapshot();
  }
  const Location& self() const override { return node_.self_location(); }
  void report_failure(const Location& peer) override { node_.note_peer_failure(peer); }
  void report_success(const Location& peer) override { node_.note_peer_success(peer); }

 private:
  locator::LocatorNode& node_;
};

}  // namespace thrifty::diststore
