#include "locator/placement/fixed_buckets.h"

#include <sstream>

namespace thrifty::placement::internal {

void RequireUnitWeight(const std::string& scheme, std::string_view node, double weight) {
  if (weight == 1.0) return;
  std::ostringstream message;
  message << "bad weight " << weight << " for node '" << node << "': " << scheme
          << " placement has one bucket per node and takes weight 1 only";
  throw PlacementError(message.str());
}

void AppendBucketsFrom(size_t first, size_t buckets, size_t n, std::vector<size_t>* out) {
  for (size_t i = 0; i < n; ++i)
    out->push_back(first + i < buckets ? first + i : first + i - buckets);
}

}  // namespace thrifty::placement::internal
