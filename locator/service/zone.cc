#include "locator/service/zone.h"

#include <cctype>

namespace thrifty::locator {

std::string MemberZone(const wire::Member& member) {
  const auto it = member.metadata.find(kZoneKey);
  return it == member.metadata.end() ? std::string() : it->second;
}

std::string ZoneProblem(const std::string& zone) {
  if (zone.size() > kMaxZoneBytes) {
    return "zone '" + zone.substr(0, 16) + "...' is " + std::to_string(zone.size()) +
           " bytes long; at most " + std::to_string(kMaxZoneBytes) + " are allowed";
  }
  for (const char c : zone) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '.' || c == '_' || c == '-') continue;
    std::string shown;
    for (const char s : zone) shown += std::isprint(static_cast<unsigned char>(s)) ? s : '?';
    return "zone '" + shown + "' may hold only ASCII letters, digits, '.', '_' and '-'";
  }
  return "";
}

}  // namespace thrifty::locator
