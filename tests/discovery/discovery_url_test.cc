// --discovery etcd://HOST:PORT/PREFIX: what parses, what it means, and the errors.
#include "locator/discovery/discovery_url.h"

#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

namespace thrifty::discovery {
namespace {

// The message of the std::invalid_argument `text` raises ("" if it parses).
std::string ParseError(const std::string& text) {
  try {
    ParseDiscoveryUrl(text);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(DiscoveryUrl, HostPortPrefix) {
  const DiscoveryUrl url = ParseDiscoveryUrl("etcd://127.0.0.1:2379/prod/store");
  EXPECT_EQ(url.host, "127.0.0.1");
  EXPECT_EQ(url.port, 2379);
  EXPECT_EQ(url.prefix, "/prod/store");
  EXPECT_EQ(url.members_prefix(), "/prod/store/members/");
  EXPECT_EQ(url.lock_key(), "/prod/store/start-lock");
  EXPECT_EQ(url.authority(), "127.0.0.1:2379");
  EXPECT_EQ(url.ToString(), "etcd://127.0.0.1:2379/prod/store");
}

TEST(DiscoveryUrl, Defaults) {
  // No port: etcd's client port. No prefix: "thrifty".
  DiscoveryUrl url = ParseDiscoveryUrl("etcd://etcd-1.example");
  EXPECT_EQ(url.host, "etcd-1.example");
  EXPECT_EQ(url.port, 2379);
  EXPECT_EQ(url.prefix, "/thrifty");
  EXPECT_EQ(url.ToString(), "etcd://etcd-1.example:2379/thrifty");
  EXPECT_EQ(ParseDiscoveryUrl("etcd://h:1/").prefix, "/thrifty");
  EXPECT_EQ(ParseDiscoveryUrl("etcd://h:1").port, 1);
  // One trailing slash is ignored.
  EXPECT_EQ(ParseDiscoveryUrl("etcd://h:65535/a/b/").prefix, "/a/b");
  EXPECT_EQ(ParseDiscoveryUrl("etcd://h:65535/a.b-c_D9").prefix, "/a.b-c_D9");
}

TEST(DiscoveryUrl, Ipv6InBrackets) {
  const DiscoveryUrl url = ParseDiscoveryUrl("etcd://[::1]:2380/p");
  EXPECT_EQ(url.host, "::1");
  EXPECT_EQ(url.port, 2380);
  EXPECT_EQ(url.authority(), "[::1]:2380");
  EXPECT_EQ(url.ToString(), "etcd://[::1]:2380/p");
  EXPECT_EQ(ParseDiscoveryUrl("etcd://[fe80::1]").port, 2379);
}

TEST(DiscoveryUrl, ErrorsSayWhatIsWrong) {
  const struct {
    std::string text;
    std::string says;
  } cases[] = {
      {"", "empty"},
      {"127.0.0.1:2379", "no scheme"},
      {"http://127.0.0.1:2379/p", "'http' is not supported"},
      {"ETCD://h:1/p", "not supported"},
      {"etcd://", "no host"},
      {"etcd:///p", "no host"},
      {"etcd://:2379/p", "no host"},
      {"etcd://h:/p", "no port"},
      {"etcd://h:0/p", "not in 1..65535"},
      {"etcd://h:65536/p", "not in 1..65535"},
      {"etcd://h:123456/p", "not in 1..65535"},
      {"etcd://h:12a/p", "not a number"},
      {"etcd://h:-1/p", "not a number"},
      {"etcd://h:1:2/p", "not a number"},
      {"etcd://h_x:1/p", "host has a '_'"},
      {"etcd://[::1/p", "without ']'"},
      {"etcd://[::1]2379/p", "':PORT' must follow"},
      {"etcd://[abc]:1/p", "IPv6"},
      {"etcd://h:1//p", "empty segment"},
      {"etcd://h:1/a//b", "empty segment"},
      {"etcd://h:1/a/../b", "'..' segment"},
      {"etcd://h:1/./b", "'.' segment"},
      {"etcd://h:1/a b", "' ' is not allowed"},
      {"etcd://h:1/a*b", "prefix has a '*'"},
      {"etcd://h:1/p?x=1", "'?' is not allowed"},
      {"etcd://h:1/p#f", "'#' is not allowed"},
      {"etcd://user@h:1/p", "'@' is not allowed"},
      {"etcd://h:1/p%20", "'%' is not allowed"},
  };
  for (const auto& c : cases) {
    const std::string error = ParseError(c.text);
    EXPECT_NE(error.find(c.says), std::string::npos) << "'" << c.text << "': " << error;
    // One line, naming the text and the form expected.
    EXPECT_EQ(error.find('\n'), std::string::npos) << error;
    EXPECT_NE(error.find("etcd://HOST:PORT/PREFIX"), std::string::npos) << error;
    EXPECT_NE(error.find("'" + c.text + "'"), std::string::npos) << error;
  }
}

}  // namespace
}  // namespace thrifty::discovery
