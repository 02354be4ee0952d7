// PlacementError: the one exception type of the placement library.
#pragma once

#include <stdexcept>

namespace thrifty::placement {

// Thrown for every misuse the library detects (bad node, weight or replica count, unknown
// scheme or hash, empty ring): the message names the value and what is wrong with it, so it can
// be shown to a person as it is.
class PlacementError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace thrifty::placement
