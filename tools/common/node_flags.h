// The flags every node (locator, storeserver) shares, and the NodeOptions they make.
#pragma once

#include "locator/service/locator_node.h"

namespace thrifty::cli {

// Builds NodeOptions from the node flags; exits 2 with a clear line on a bad value.
locator::NodeOptions NodeOptionsFromFlags();

// Installs SIGINT/SIGTERM handling: the first signal makes WaitForStopSignal() return; the
// second exits at once (status 130).
void InstallStopSignals();
// Blocks until SIGINT or SIGTERM; returns the signal number.
int WaitForStopSignal();

}  // namespace thrifty::cli
