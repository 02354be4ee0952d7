#include "locator/service/admission.h"

#include <glog/logging.h>

#include "locator/rpc/address.h"
#include "locator/service/ring.h"

namespace thrifty::locator {

namespace {
[[noreturn]] void Refuse(const char* call, const std::string& why) {
  wire::LocatorError error;
  error.message = std::string(call) + " refused: " + why;
  throw error;
}
}  // namespace

void RefuseBadLocation(const char* call, const wire::Location& location) {
  try {
    rpc::ValidateLocation(location);
  } catch (const std::invalid_argument& e) {
    Refuse(call, e.what());
  }
}

void RefuseOtherPlacement(const char* call, const std::string& ours, const wire::JoinInfo& info) {
  if (info.placement.empty() || info.placement == ours) return;
  Refuse(call, "this cluster places keys with '" + ours + "', the joining node with '" +
                   info.placement + "'");
}

void RefuseBadWeight(const char* call, const wire::Location& location, const wire::JoinInfo& info,
                     const std::string& placement) {
  wire::Member candidate;
  candidate.location = location;
  candidate.metadata = info.metadata;
  const std::string problem = WeightProblem(candidate, placement);
  if (problem.empty()) return;
  LOG(WARNING) << call << " of " << rpc::ToString(location) << " refused: " << problem;
  Refuse(call, problem);
}

}  // namespace thrifty::locator
