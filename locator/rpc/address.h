// Network addresses as thrifty's flags and RPCs carry them.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "locator_types.h"

namespace thrifty::rpc {

// Throws std::invalid_argument with a message naming the problem when `location` has an
// empty address or a port outside 1..65535.
void ValidateLocation(const locator::wire::Location& location);

// Parses "HOST:PORT" ("[v6]:PORT" too). Throws std::invalid_argument with a clear message.
locator::wire::Location ParseLocation(std::string_view text);

// Parses a comma-separated list of HOST:PORT.
std::vector<locator::wire::Location> ParseLocations(std::string_view text);

std::string ToString(const locator::wire::Location& location);

locator::wire::Location MakeLocation(std::string address, int port);

}  // namespace thrifty::rpc
