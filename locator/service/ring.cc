#include "locator/service/ring.h"

#include <cmath>
#include <cstdlib>

#include "locator/membership/member_table.h"

namespace thrifty::locator {

double MemberWeight(const Member& member) {
  auto it = member.metadata.find(kWeightKey);
  if (it == member.metadata.end()) return 1.0;
  char* end = nullptr;
  const double weight = std::strtod(it->second.c_str(), &end);
  const bool decimal = it->second.find_first_not_of("0123456789.eE+-") == std::string::npos;
  const bool whole =
      decimal && end == it->second.c_str() + it->second.size() && !it->second.empty();
  if (!whole || !std::isfinite(weight) || weight <= 0) return 1.0;
  return weight;
}

Ring::Ring(const std::vector<Member>& members, const std::string& placement_spec)
    : spec_(placement_spec), placement_(placement::MakePlacement(placement_spec)) {
  for (const Member& member : members) {
    const std::string name = membership::MemberName(member.location);
    const double weight = MemberWeight(member);
    placement_->add(name, weight);
    by_index_.push_back(member.location);
    locations_[name] = member.location;
    weights_[name] = weight;
  }
  placement_->prepare();  // build the continuum now: readers share this ring unlocked
}

const Location& Ring::owner(std::string_view key) const {
  return by_index_[placement_->owner_index(key)];
}

std::vector<Location> Ring::preference_list(std::string_view key, size_t n) const {
  std::vector<Location> out;
  for (size_t index : placement_->preference_indices(key, static_cast<int>(n))) {
    out.push_back(by_index_[index]);
  }
  return out;
}

std::vector<Location> Ring::nodes() const {
  std::vector<Location> out;
  out.reserve(locations_.size());
  for (const auto& [name, location] : locations_) out.push_back(location);
  return out;
}

}  // namespace thrifty::locator
