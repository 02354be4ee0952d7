// How nodes are written on command lines and in configuration: "HOST:PORT[=WEIGHT]".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "locator/placement/placement_error.h"

namespace thrifty::placement {

struct HostPort {
  std::string host;  // an IPv6 address without its brackets
  uint16_t port = 0;

  // "host:port", or "[host]:port" when the host holds ':': the node id placement uses.
  std::string id() const;
};

struct NodeSpec {
  HostPort address;
  double weight = 1.0;

  std::string id() const { return address.id(); }
};

// Parses "HOST:PORT": HOST non-empty, without whitespace, ',', '=' or '/', and with ':' only
// inside brackets ("[::1]:7000"); PORT decimal 1..65535 without sign or leading zero, so that
// one node has exactly one spelling (ketama hashes the spelling).
// Fails: PlacementError saying what is wrong with `text`.
HostPort ParseHostPort(std::string_view text);

// Parses "HOST:PORT" or "HOST:PORT=WEIGHT"; WEIGHT is a finite decimal > 0 (default 1).
// Fails: PlacementError.
NodeSpec ParseNodeSpec(std::string_view text);

// Parses a comma-separated list of node specs. Requires at least one node; no empty items,
// no node twice. Fails: PlacementError.
std::vector<NodeSpec> ParseNodeList(std::string_view text);

}  // namespace thrifty::placement
