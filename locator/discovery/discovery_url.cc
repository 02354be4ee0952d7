#include "locator/discovery/discovery_url.h"

#include <stdexcept>

namespace thrifty::discovery {

namespace {

constexpr char kScheme[] = "etcd://";
constexpr char kDefaultPrefix[] = "/thrifty";

[[noreturn]] void Bad(const std::string& text, const std::string& why) {
  throw std::invalid_argument("'" + text + "' is not a discovery URL: " + why +
                              " (expected etcd://HOST:PORT/PREFIX)");
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlnum(char c) { return IsDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// Checks HOST (brackets already removed for IPv6): letters, digits, '.', '-'; or hex digits,
// ':' and '.' for an IPv6 address.
void CheckHost(const std::string& text, const std::string& host, bool bracketed) {
  if (host.empty()) Bad(text, "no host");
  for (char c : host) {
    const bool ok = bracketed ? (IsAlnum(c) || c == ':' || c == '.')
                              : (IsAlnum(c) || c == '.' || c == '-');
    if (!ok) Bad(text, std::string("the host has a '") + c + "'");
  }
  if (bracketed && host.find(':') == std::string::npos) Bad(text, "brackets hold an IPv6 address");
}

int ParsePort(const std::string& text, const std::string& digits) {
  if (digits.empty()) Bad(text, "no port after ':'");
  if (digits.size() > 5) Bad(text, "the port '" + digits + "' is not in 1..65535");
  int port = 0;
  for (char c : digits) {
    if (!IsDigit(c)) Bad(text, "the port '" + digits + "' is not a number");
    port = port * 10 + (c - '0');
  }
  if (port < 1 || port > 65535) Bad(text, "the port '" + digits + "' is not in 1..65535");
  return port;
}

// "/a/b" from the path after the authority ("", "/", "/a/b/" ...).
std::string ParsePrefix(const std::string& text, std::string path) {
  if (path.empty() || path == "/") return kDefaultPrefix;
  if (path.back() == '/') path.pop_back();
  std::string prefix;
  size_t at = 1;  // path[0] is '/'
  while (at <= path.size()) {
    size_t end = path.find('/', at);
    if (end == std::string::npos) end = path.size();
    const std::string segment = path.substr(at, end - at);
    if (segment.empty()) Bad(text, "the prefix has an empty segment ('//')");
    if (segment == "." || segment == "..") Bad(text, "the prefix has a '" + segment + "' segment");
    for (char c : segment) {
      if (!(IsAlnum(c) || c == '.' || c == '-' || c == '_')) {
        Bad(text, std::string("the prefix has a '") + c +
                      "' (letters, digits, '.', '-', '_' and '/' only)");
      }
    }
    prefix += "/" + segment;
    at = end + 1;
  }
  return prefix;
}

}  // namespace

std::string DiscoveryUrl::members_prefix() const { return prefix + "/members/"; }

std::string DiscoveryUrl::lock_key() const { return prefix + "/start-lock"; }

std::string DiscoveryUrl::authority() const {
  const std::string name = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return name + ":" + std::to_string(port);
}

std::string DiscoveryUrl::ToString() const { return kScheme + authority() + prefix; }

DiscoveryUrl ParseDiscoveryUrl(const std::string& text) {
  if (text.empty()) Bad(text, "it is empty");
  const size_t scheme_end = text.find("://");
  if (scheme_end == std::string::npos) Bad(text, "no scheme");
  if (text.compare(0, scheme_end + 3, kScheme) != 0) {
    Bad(text, "the scheme '" + text.substr(0, scheme_end) + "' is not supported (only etcd)");
  }
  const std::string rest = text.substr(scheme_end + 3);
  for (char c : {'?', '#', '@', '%', ' '}) {
    if (rest.find(c) != std::string::npos) {
      Bad(text, std::string("'") + c + "' is not allowed (no user, query, fragment or escapes)");
    }
  }
  const size_t slash = rest.find('/');
  const std::string authority = rest.substr(0, slash);
  const std::string path = slash == std::string::npos ? "" : rest.substr(slash);

  DiscoveryUrl url;
  std::string port_text;
  bool has_port = false;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string::npos) Bad(text, "'[' without ']'");
    url.host = authority.substr(1, close - 1);
    CheckHost(text, url.host, true);
    const std::string after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') Bad(text, "':PORT' must follow ']'");
      has_port = true;
      port_text = after.substr(1);
    }
  } else {
    const size_t colon = authority.find(':');
    url.host = authority.substr(0, colon);
    CheckHost(text, url.host, false);
    if (colon != std::string::npos) {
      has_port = true;
      port_text = authority.substr(colon + 1);
    }
  }
  if (has_port) url.port = ParsePort(text, port_text);
  url.prefix = ParsePrefix(text, path);
  return url;
}

}  // namespace thrifty::discovery
