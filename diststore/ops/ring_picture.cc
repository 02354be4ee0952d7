#include "diststore/ops/ring_picture.h"

#include <algorithm>
#include <map>

#include "locator/placement/ketama.h"

namespace thrifty::diststore {

namespace {

constexpr double kCircle = 4294967296.0;  // 2^32

void AddArc(RingPicture* picture, size_t node, double start, double end) {
  if (end <= start) return;
  if (!picture->arcs.empty() && picture->arcs.back().node == node &&
      picture->arcs.back().end == start) {
    picture->arcs.back().end = end;
    return;
  }
  picture->arcs.push_back({node, start, end});
}

}  // namespace

RingPicture DrawRing(const locator::Ring& ring, int samples) {
  RingPicture picture;
  const placement::Placement& placement = ring.placement();
  if (placement.empty()) return picture;
  // Nodes sorted by name; index[i]: the sorted position of placement node i.
  picture.nodes = placement.nodes();
  std::sort(picture.nodes.begin(), picture.nodes.end());
  std::vector<size_t> index(placement.size());
  for (size_t i = 0; i < placement.size(); ++i) {
    index[i] = static_cast<size_t>(
        std::lower_bound(picture.nodes.begin(), picture.nodes.end(), placement.nodes()[i]) -
        picture.nodes.begin());
  }
  picture.shares.assign(picture.nodes.size(), 0.0);

  if (const auto* ketama = dynamic_cast<const placement::KetamaPlacement*>(&placement)) {
    const auto points = ketama->points();
    if (!points.empty()) {
      picture.exact = true;
      // Point i owns the hashes (points[i-1], points[i]]; the first point also owns those above
      // the last one, which wrap around.
      const size_t first_owner = index[points.front().second];
      double previous = 0;
      for (const auto& [point, owner] : points) {
        const double end = (static_cast<double>(point) + 1) / kCircle;
        AddArc(&picture, index[owner], previous, end);
        picture.shares[index[owner]] += end - previous;
        previous = end;
      }
      AddArc(&picture, first_owner, previous, 1.0);
      picture.shares[first_owner] += 1.0 - previous;
      return picture;
    }
  }

  std::vector<int64_t> counts(picture.nodes.size(), 0);
  for (int i = 0; i < samples; ++i) {
    ++counts[index[placement.owner_index("ring-sample-" + std::to_string(i))]];
  }
  double start = 0;
  for (size_t n = 0; n < counts.size(); ++n) {
    picture.shares[n] = static_cast<double>(counts[n]) / std::max(1, samples);
    const double end = n + 1 == counts.size() ? 1.0 : start + picture.shares[n];
    AddArc(&picture, n, start, end);
    start = end;
  }
  return picture;
}

}  // namespace thrifty::diststore
