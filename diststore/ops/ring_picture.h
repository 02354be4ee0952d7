// RingPicture: a ring drawn as arcs of a circle, for the status page, and each node's share of
// the keys.
//
// Ketama places keys on a circle of 2^32 points, so its picture is exact: every arc of the
// continuum, in its owner's colour, and each node's share is the length of its arcs. The other
// placements (rendezvous, jump, modulo) have no circle: each node's share is estimated from
// sample keys, and the picture is one arc per node, as long as its share.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "locator/service/ring.h"

namespace thrifty::diststore {

struct RingArc {
  size_t node;   // index in RingPicture::nodes
  double start;  // fractions of the circle, 0 <= start < end <= 1, clockwise from the top
  double end;
};

struct RingPicture {
  bool exact = false;               // true: the placement's own circle (ketama)
  std::vector<std::string> nodes;   // "host:port", sorted
  std::vector<double> shares;       // per node: the fraction of keys it owns (sums to 1)
  std::vector<RingArc> arcs;        // ascending, adjacent arcs of one node merged
};

// Draws `ring` (empty ring: no nodes, no arcs). `samples`: keys used to estimate shares when
// the placement has no circle.
RingPicture DrawRing(const locator::Ring& ring, int samples = 20000);

}  // namespace thrifty::diststore
