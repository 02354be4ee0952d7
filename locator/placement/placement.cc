#include "locator/placement/placement.h"

#include <cmath>
#include <sstream>
#include <stdexcept>

#include "locator/hash/hash_function.h"
#include "locator/placement/jump.h"
#include "locator/placement/ketama.h"
#include "locator/placement/modulo.h"
#include "locator/placement/node_spec.h"
#include "locator/placement/rendezvous.h"

namespace thrifty::placement {
namespace {

std::string Quote(std::string_view text) { return "'" + std::string(text) + "'"; }

std::string JoinNames(const std::vector<std::string_view>& names) {
  std::string out;
  for (std::string_view name : names) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

std::string WeightText(double weight) {
  std::ostringstream out;
  out << weight;
  return out.str();
}

}  // namespace

void Placement::add(std::string_view node, double weight) {
  const HostPort address = ParseHostPort(node);
  if (address.id() != node) {
    throw PlacementError("bad node " + Quote(node) + ": write it " + Quote(address.id()));
  }
  if (!std::isfinite(weight) || weight <= 0) {
    throw PlacementError("bad weight " + WeightText(weight) + " for node " + Quote(node) +
                         ": must be a finite number > 0");
  }
  check_weight(node, weight);
  if (contains(node)) throw PlacementError("node " + Quote(node) + " is already present");

  // Reserved first, so that only the steps inside `try` can fail after the vectors grew.
  nodes_.reserve(nodes_.size() + 1);
  weights_.reserve(weights_.size() + 1);
  nodes_.emplace_back(node);
  weights_.push_back(weight);
  try {
    index_.emplace(nodes_.back(), nodes_.size() - 1);
    nodes_changed();
  } catch (...) {
    index_.erase(nodes_.back());
    nodes_.pop_back();
    weights_.pop_back();
    throw;
  }
}

void Placement::remove(std::string_view node) {
  const auto it = index_.find(node);
  if (it == index_.end()) throw PlacementError("node " + Quote(node) + " is not present");
  const size_t pos = it->second;

  // Keep the old state until the scheme has accepted the new one.
  std::vector<std::string> old_nodes = nodes_;
  std::vector<double> old_weights = weights_;
  auto old_index = index_;
  nodes_.erase(nodes_.begin() + static_cast<std::ptrdiff_t>(pos));
  weights_.erase(weights_.begin() + static_cast<std::ptrdiff_t>(pos));
  index_.erase(it);
  for (auto& entry : index_) {
    if (entry.second > pos) --entry.second;
  }
  try {
    nodes_changed();
  } catch (...) {
    nodes_ = std::move(old_nodes);
    weights_ = std::move(old_weights);
    index_ = std::move(old_index);
    throw;
  }
}

void Placement::check_weight(std::string_view, double) const {}

void Placement::check_not_empty() const {
  if (nodes_.empty()) throw PlacementError(name_ + " placement has no nodes to place keys on");
}

size_t Placement::owner_index(std::string_view key) const {
  check_not_empty();
  return locate(key);
}

const std::string& Placement::owner(std::string_view key) const { return nodes_[owner_index(key)]; }

std::vector<size_t> Placement::preference_indices(std::string_view key, int n) const {
  if (n <= 0) {
    throw PlacementError("bad replica count " + std::to_string(n) + ": must be at least 1");
  }
  check_not_empty();
  const size_t count = std::min(static_cast<size_t>(n), nodes_.size());
  std::vector<size_t> out;
  out.reserve(count);
  collect(key, count, &out);
  return out;
}

std::vector<std::string> Placement::preference_list(std::string_view key, int n) const {
  const std::vector<size_t> indices = preference_indices(key, n);
  std::vector<std::string> out;
  out.reserve(indices.size());
  for (size_t i : indices) out.push_back(nodes_[i]);
  return out;
}

std::string PlacementSpec::ToString() const {
  if (scheme == "ketama") return scheme;
  return scheme + "/" + hash;
}

const std::vector<std::string_view>& PlacementSchemeNames() {
  static const std::vector<std::string_view> names = {"ketama", "rendezvous", "jump", "modulo"};
  return names;
}

std::string_view DefaultHashFor(std::string_view scheme) {
  if (scheme == "ketama") return "md5";
  for (std::string_view known : PlacementSchemeNames()) {
    if (scheme == known) return "xxh3";
  }
  throw PlacementError("unknown placement " + Quote(scheme) +
                       " (known: " + JoinNames(PlacementSchemeNames()) + ")");
}

namespace {

// Returns the spec with the default hash filled in, or throws PlacementError.
PlacementSpec Check(std::string_view scheme, std::string_view hash) {
  PlacementSpec out{std::string(scheme), std::string(hash.empty() ? DefaultHashFor(scheme) : hash)};
  bool known_hash = false;
  for (std::string_view name : hash::HashFunctionNames())
    known_hash = known_hash || name == out.hash;
  if (!known_hash) {
    throw PlacementError("unknown hash function " + Quote(out.hash) +
                         " (known: " + JoinNames(hash::HashFunctionNames()) + ")");
  }
  if (out.scheme == "ketama" && out.hash != "md5") {
    throw PlacementError("ketama hashes with md5 only (it maps keys as libmemcached does), not " +
                         out.hash);
  }
  return out;
}

}  // namespace

PlacementSpec ParsePlacementSpec(std::string_view spec) {
  const size_t slash = spec.find('/');
  if (slash == std::string_view::npos) return Check(spec, {});
  const std::string_view hash = spec.substr(slash + 1);
  if (hash.empty() || hash.find('/') != std::string_view::npos) {
    throw PlacementError("bad placement " + Quote(spec) + ": expected SCHEME or SCHEME/HASH");
  }
  return Check(spec.substr(0, slash), hash);
}

std::unique_ptr<Placement> MakePlacement(const PlacementSpec& spec) {
  const PlacementSpec checked = Check(spec.scheme, spec.hash);
  if (checked.scheme == "ketama") return std::make_unique<KetamaPlacement>();
  std::shared_ptr<const hash::HashFunction> hash = hash::MakeHashFunction(checked.hash);
  if (checked.scheme == "rendezvous") return std::make_unique<RendezvousPlacement>(std::move(hash));
  if (checked.scheme == "jump") return std::make_unique<JumpPlacement>(std::move(hash));
  return std::make_unique<ModuloPlacement>(std::move(hash));
}

std::unique_ptr<Placement> MakePlacement(std::string_view scheme, std::string_view hash) {
  return MakePlacement(PlacementSpec{std::string(scheme), std::string(hash)});
}

std::unique_ptr<Placement> MakePlacement(std::string_view spec) {
  return MakePlacement(ParsePlacementSpec(spec));
}

}  // namespace thrifty::placement
