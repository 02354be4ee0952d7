// Admission: the checks a node makes before a location or a joiner enters its view. Each
// throws wire::LocatorError("CALL refused: why"), with nothing changed.
#pragma once

#include <string>

#include "locator_types.h"

namespace thrifty::locator {

// `location` must be a usable address (see rpc::ValidateLocation).
void RefuseBadLocation(const char* call, const wire::Location& location);
// The joiner's placement (empty: not said) must be the cluster's.
void RefuseOtherPlacement(const char* call, const std::string& ours, const wire::JoinInfo& info);
// The joiner's weight must be one the placement can take (see WeightProblem).
void RefuseBadWeight(const char* call, const wire::Location& location, const wire::JoinInfo& info,
                     const std::string& placement);

}  // namespace thrifty::locator
