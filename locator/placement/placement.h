// Placement: which nodes own a key. One interface over several schemes (ketama, rendezvous,
// jump, modulo; see their headers), each with its hash function.
//
// Nodes are named "host:port" (node_spec.h) and carry a weight: a node of weight 2 gets about
// twice the keys of a node of weight 1 (not jump or modulo, which take weight 1 only).
//
// Threads: the const methods (owner, preference_list, ...) may run concurrently with each
// other; add and remove need exclusive access. The intended use is a snapshot: build a
// placement, publish it as shared_ptr<const Placement>, and on a membership change build (or
// clone() and edit) a new one and swap the pointer. Copying is never implicit; clone() is the
// explicit deep copy.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "locator/placement/placement_error.h"

namespace thrifty::placement {

class Placement {
 public:
  virtual ~Placement() = default;

  Placement& operator=(const Placement&) = delete;

  // Adds `node` ("host:port", as node_spec.h spells it) with `weight`.
  // Fails (PlacementError, nothing changed): node not "host:port", already present, or weight
  // not finite and > 0 (for jump and modulo: not 1; for ketama: above 2^32 - 1).
  void add(std::string_view node, double weight = 1.0);

  // Removes `node`. Fails (PlacementError): node absent.
  void remove(std::string_view node);

  // Returns the node that owns `key`; the reference lives as long as this placement is not
  // changed or destroyed. Copies no string (ketama: no allocation once built, see prepare()).
  // Fails (PlacementError): no nodes.
  const std::string& owner(std::string_view key) const;

  // Returns min(n, size()) distinct nodes for `key`, the owner first, then the nodes that would
  // take over in turn (the scheme's own order: clockwise on a ring, descending score, ...).
  // Fails (PlacementError): no nodes, or n <= 0.
  std::vector<std::string> preference_list(std::string_view key, int n) const;

  // The same as owner() and preference_list(), as positions in nodes().
  size_t owner_index(std::string_view key) const;
  std::vector<size_t> preference_indices(std::string_view key, int n) const;

  // Nodes in the order they were added, and their weights (parallel).
  const std::vector<std::string>& nodes() const { return nodes_; }
  const std::vector<double>& weights() const { return weights_; }
  size_t size() const { return nodes_.size(); }
  bool empty() const { return nodes_.empty(); }
  bool contains(std::string_view node) const { return index_.count(node) != 0; }

  // The scheme and its hash as MakePlacement takes them: "ketama", "rendezvous/siphash", ...
  const std::string& name() const { return name_; }

  // Builds whatever the scheme derives from its nodes now rather than on the first lookup
  // after a change (ketama's continuum). Optional; thread-safe.
  virtual void prepare() const {}

  // Returns an independent deep copy (same nodes, weights, scheme and hash).
  virtual std::unique_ptr<Placement> clone() const = 0;

 protected:
  explicit Placement(std::string name) : name_(std::move(name)) {}
  // For clone() only: a copy is a deliberate, whole-ring operation.
  Placement(const Placement&) = default;

  // Called after nodes()/weights() changed (one node appended, or one removed with the order of
  // the others kept). May throw; the change is then undone.
  virtual void nodes_changed() = 0;
  // Throws PlacementError if the scheme cannot take `weight` (already finite and > 0).
  virtual void check_weight(std::string_view node, double weight) const;
  // Requires size() > 0.
  virtual size_t locate(std::string_view key) const = 0;
  // Requires 0 < n <= size(); appends exactly n distinct indices to *out, locate(key) first.
  virtual void collect(std::string_view key, size_t n, std::vector<size_t>* out) const = 0;

 private:
  void check_not_empty() const;

  std::string name_;
  std::vector<std::string> nodes_;
  std::vector<double> weights_;
  std::map<std::string, size_t, std::less<>> index_;  // node -> position in nodes_
};

// The scheme and hash names a placement is made from.
struct PlacementSpec {
  std::string scheme;  // "ketama", "rendezvous", "jump" or "modulo"
  std::string hash;    // "md5", "siphash", "xxh64", "xxh3" or "fnv1a"

  std::string ToString() const;  // "ketama" or "scheme/hash"
};

// The scheme names MakePlacement accepts, ketama (the default) first.
const std::vector<std::string_view>& PlacementSchemeNames();

// The hash a scheme uses when the spec names none: md5 for ketama (the only one it takes),
// xxh3 for the others. Fails (PlacementError): unknown scheme.
std::string_view DefaultHashFor(std::string_view scheme);

// Parses "SCHEME" or "SCHEME/HASH": "ketama", "ketama/md5", "rendezvous" (= rendezvous/xxh3),
// "rendezvous/siphash", "jump/xxh3", "modulo/fnv1a", ...
// Fails (PlacementError): unknown scheme or hash, or ketama with a hash other than md5.
PlacementSpec ParsePlacementSpec(std::string_view spec);

// Returns an empty placement. An empty `hash` means DefaultHashFor(scheme).
// Fails (PlacementError): as ParsePlacementSpec.
std::unique_ptr<Placement> MakePlacement(std::string_view scheme, std::string_view hash);
std::unique_ptr<Placement> MakePlacement(const PlacementSpec& spec);
std::unique_ptr<Placement> MakePlacement(std::string_view spec);  // ParsePlacementSpec(spec)

}  // namespace thrifty::placement
