// Helpers shared by the fixed-bucket schemes (jump, modulo). Internal to the library.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "locator/placement/placement_error.h"

namespace thrifty::placement::internal {

// Throws PlacementError unless weight == 1: these schemes have one bucket per node.
void RequireUnitWeight(const std::string& scheme, std::string_view node, double weight);

// Appends first, first+1, ... (mod buckets), n of them. Requires n <= buckets, first < buckets.
void AppendBucketsFrom(size_t first, size_t buckets, size_t n, std::vector<size_t>* out);

}  // namespace thrifty::placement::internal
