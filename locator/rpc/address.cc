#include "locator/rpc/address.h"

#include <charconv>
#include <stdexcept>

namespace thrifty::rpc {

void ValidateLocation(const locator::wire::Location& location) {
  if (location.address.empty()) {
    throw std::invalid_argument("empty address in location ':" + std::to_string(location.port) + "'");
  }
  if (location.address.size() > 255) {
    throw std::invalid_argument("address longer than 255 bytes");
  }
  if (location.port < 1 || location.port > 65535) {
    throw std::invalid_argument("port " + std::to_string(location.port) + " of '" +
                                location.address + "' is outside 1..65535");
  }
}

locator::wire::Location ParseLocation(std::string_view text) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    throw std::invalid_argument("'" + std::string(text) + "' is not HOST:PORT");
  }
  std::string_view host = text.substr(0, colon);
  std::string_view port_text = text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  } else if (host.find_first_of("[]") != std::string_view::npos) {
    throw std::invalid_argument("'" + std::string(text) + "': unbalanced brackets around the address");
  }
  int port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port_text.empty()) {
    throw std::invalid_argument("'" + std::string(text) + "': port is not a number");
  }
  locator::wire::Location location = MakeLocation(std::string(host), port);
  ValidateLocation(location);
  return location;
}

std::vector<locator::wire::Location> ParseLocations(std::string_view text) {
  std::vector<locator::wire::Location> out;
  while (!text.empty()) {
    const auto comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    if (!item.empty()) out.push_back(ParseLocation(item));
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

std::string ToString(const locator::wire::Location& location) {
  if (location.address.find(':') != std::string::npos) {
    return "[" + location.address + "]:" + std::to_string(location.port);
  }
  return location.address + ":" + std::to_string(location.port);
}

locator::wire::Location MakeLocation(std::string address, int port) {
  locator::wire::Location location;
  location.address = std::move(address);
  location.port = port;
  return location;
}

}  // namespace thrifty::rpc
