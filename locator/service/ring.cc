#include "locator/service/ring.h"

#include <cmath>
#include <cstdlib>
#include <optional>

#include <glog/logging.h>

#include "locator/membership/member_table.h"

namespace thrifty::locator {

namespace {

// A weight is plain decimal text ("2", "0.5", "1e3") of a finite number > 0.
std::optional<double> ParseWeight(const std::string& text) {
  if (text.empty() || text.find_first_not_of("0123456789.eE+-") != std::string::npos) {
    return std::nullopt;
  }
  char* end = nullptr;
  const double weight = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || !std::isfinite(weight) || weight <= 0) {
    return std::nullopt;
  }
  return weight;
}

}  // namespace

double MemberWeight(const Member& member) {
  auto it = member.metadata.find(kWeightKey);
  if (it == member.metadata.end()) return 1.0;
  return ParseWeight(it->second).value_or(1.0);
}

std::string WeightProblem(const Member& member, const std::string& placement_spec) {
  auto it = member.metadata.find(kWeightKey);
  if (it == member.metadata.end()) return "";
  const std::string quoted = "weight '" + it->second.substr(0, 64) + "'";
  const std::optional<double> weight = ParseWeight(it->second);
  if (!weight) return quoted + " is not a finite decimal number > 0";
  try {
    auto probe = placement::MakePlacement(placement_spec);
    probe->add(membership::MemberName(member.location), *weight);
  } catch (const placement::PlacementError& e) {
    return quoted + " cannot be used with placement " + placement_spec + ": " + e.what();
  }
  return "";
}

Ring::Ring(const std::vector<Member>& members, const std::string& placement_spec)
    : spec_(placement_spec), placement_(placement::MakePlacement(placement_spec)) {
  for (const Member& member : members) {
    const std::string name = membership::MemberName(member.location);
    double weight = MemberWeight(member);
    try {
      placement_->add(name, weight);
    } catch (const placement::PlacementError& e) {
      LOG_EVERY_N(ERROR, 100) << "member " << name << ": " << e.what() << "; placed with weight 1";
      weight = 1.0;
      placement_->add(name, weight);
    }
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
