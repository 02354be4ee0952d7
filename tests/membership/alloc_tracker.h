// Records the largest single operator-new allocation while a tracker is alive (this test
// binary replaces the global operator new; under TSan, which forbids that, a malloc hook
// records every allocation). Proves that a decoder did not allocate what a
// hostile packet declared.
#pragma once

#include <cstddef>

namespace thrifty::membership::testing {

class LargestAllocation {
 public:
  LargestAllocation();
  ~LargestAllocation();
  size_t bytes() const;
};

}  // namespace thrifty::membership::testing
