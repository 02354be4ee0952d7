#include "locator/placement/node_spec.h"

#include <charconv>
#include <cmath>
#include <set>

namespace thrifty::placement {
namespace {

std::string Quote(std::string_view text) { return "'" + std::string(text) + "'"; }

bool IsForbiddenHostChar(char c) {
  return c == ',' || c == '=' || c == '/' || c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
         c == '\f' || c == '\v' || c == '\0';
}

}  // namespace

std::string HostPort::id() const {
  const std::string p = std::to_string(port);
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + p;
  return host + ":" + p;
}

HostPort ParseHostPort(std::string_view text) {
  const std::string what = "bad node " + Quote(text) + ": ";
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) throw PlacementError(what + "expected HOST:PORT");
  std::string_view host = text.substr(0, colon);
  const std::string_view port = text.substr(colon + 1);

  if (!host.empty() && host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') {
      throw PlacementError(what + "an IPv6 host must be written [ADDRESS]");
    }
    host = host.substr(1, host.size() - 2);
    if (host.find_first_of("[]") != std::string_view::npos) {
      throw PlacementError(what + "an IPv6 host must be written [ADDRESS]");
    }
  } else if (host.find_first_of(":[]") != std::string_view::npos) {
    throw PlacementError(what + "a host holding ':' must be written in brackets, [ADDRESS]");
  }
  if (host.empty()) throw PlacementError(what + "empty host");
  for (char c : host) {
    if (IsForbiddenHostChar(c)) {
      throw PlacementError(what + "the host may not hold whitespace, ',', '=' or '/'");
    }
  }

  const std::string port_error = what + "port must be 1..65535";
  if (port.empty() || port.size() > 5 || port.front() == '0') throw PlacementError(port_error);
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || end != port.data() + port.size() || value < 1 || value > 65535) {
    throw PlacementError(port_error);
  }
  return HostPort{std::string(host), static_cast<uint16_t>(value)};
}

NodeSpec ParseNodeSpec(std::string_view text) {
  const size_t eq = text.find('=');
  NodeSpec spec;
  spec.address = ParseHostPort(text.substr(0, eq));
  if (eq == std::string_view::npos) return spec;

  const std::string_view weight = text.substr(eq + 1);
  const std::string error = "bad node " + Quote(text) + ": weight must be a number > 0";
  double value = 0;
  const auto [end, ec] = std::from_chars(weight.data(), weight.data() + weight.size(), value);
  if (weight.empty() || ec != std::errc() || end != weight.data() + weight.size() ||
      !std::isfinite(value) || value <= 0) {
    throw PlacementError(error);
  }
  spec.weight = value;
  return spec;
}

std::vector<NodeSpec> ParseNodeList(std::string_view text) {
  if (text.empty()) throw PlacementError("empty node list");
  std::vector<NodeSpec> nodes;
  std::set<std::string> seen;
  size_t start = 0;
  while (true) {
    const size_t comma = text.find(',', start);
    const std::string_view item = text.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    if (item.empty()) throw PlacementError("bad node list " + Quote(text) + ": empty item");
    NodeSpec spec = ParseNodeSpec(item);
    if (!seen.insert(spec.id()).second) {
      throw PlacementError("bad node list: node " + Quote(spec.id()) + " given twice");
    }
    nodes.push_back(std::move(spec));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return nodes;
}

}  // namespace thrifty::placement
