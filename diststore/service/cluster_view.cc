#include "diststore/service/cluster_view.h"

#include <glog/logging.h>

#include "locator/membership/member_table.h"
#include "locator/rpc/address.h"

namespace thrifty::diststore {

std::string ClusterView::self_name() const { return membership::MemberName(self()); }

std::string ClusterView::owner_unreachable(const Location& owner, const std::exception& e) {
  report_failure(owner);
  LOG(WARNING) << "owner " << rpc::ToString(owner) << " unreachable: " << e.what();
  return "owner " + rpc::ToString(owner) + " is unreachable (" + e.what() +
         "); try again once the cluster has noticed";
}

bool ClusterView::is_self(const Location& location) const {
  return membership::MemberName(location) == self_name();
}

}  // namespace thrifty::diststore
