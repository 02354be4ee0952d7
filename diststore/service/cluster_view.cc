#include "diststore/service/cluster_view.h"

#include "locator/membership/member_table.h"

namespace thrifty::diststore {

std::string ClusterView::self_name() const { return membership::MemberName(self()); }

bool ClusterView::is_self(const Location& location) const {
  return membership::MemberName(location) == self_name();
}

}  // namespace thrifty::diststore
