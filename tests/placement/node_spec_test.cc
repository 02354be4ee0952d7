#include "locator/placement/node_spec.h"

#include <string>

#include <gtest/gtest.h>

namespace thrifty::placement {
namespace {

std::string ErrorOf(void (*parse)(std::string_view), std::string_view text) {
  try {
    parse(text);
  } catch (const PlacementError& e) {
    return e.what();
  }
  return "";
}

void HostPortOnly(std::string_view text) { ParseHostPort(text); }
void Spec(std::string_view text) { ParseNodeSpec(text); }
void List(std::string_view text) { ParseNodeList(text); }

TEST(ParseHostPort, AcceptsNamesAddressesAndBracketedIpv6) {
  HostPort a = ParseHostPort("10.0.0.1:11211");
  EXPECT_EQ(a.host, "10.0.0.1");
  EXPECT_EQ(a.port, 11211);
  EXPECT_EQ(a.id(), "10.0.0.1:11211");

  a = ParseHostPort("cache-3.example:1");
  EXPECT_EQ(a.host, "cache-3.example");
  EXPECT_EQ(a.port, 1);

  a = ParseHostPort("[::1]:65535");
  EXPECT_EQ(a.host, "::1");
  EXPECT_EQ(a.port, 65535);
  EXPECT_EQ(a.id(), "[::1]:65535");
}

TEST(ParseHostPort, RejectsBadPortsAndHosts) {
  for (const char* text : {"host:0", "host:65536", "host:99999", "host:", "host:-1", "host:+80",
                           "host:080", "host:8x", "host:1 ", "host:123456"}) {
    EXPECT_NE(ErrorOf(HostPortOnly, text).find("port must be 1..65535"), std::string::npos)
        << text << ": " << ErrorOf(HostPortOnly, text);
  }
  EXPECT_NE(ErrorOf(HostPortOnly, "host").find("expected HOST:PORT"), std::string::npos);
  EXPECT_NE(ErrorOf(HostPortOnly, ":80").find("empty host"), std::string::npos);
  EXPECT_NE(ErrorOf(HostPortOnly, "::1:80").find("brackets"), std::string::npos);
  EXPECT_NE(ErrorOf(HostPortOnly, "[::1:80").find("[ADDRESS]"), std::string::npos);
  EXPECT_NE(ErrorOf(HostPortOnly, "[]:80").find("[ADDRESS]"), std::string::npos);
  EXPECT_NE(ErrorOf(HostPortOnly, "a b:80").find("whitespace"), std::string::npos);
  EXPECT_NE(ErrorOf(HostPortOnly, "a/b:80").find("'/'"), std::string::npos);
  EXPECT_NE(ErrorOf(HostPortOnly, "host:0").find("'host:0'"), std::string::npos)
      << "the message names the text";
}

TEST(ParseNodeSpec, WeightDefaultsToOneAndMustBePositiveAndFinite) {
  NodeSpec spec = ParseNodeSpec("a:1");
  EXPECT_EQ(spec.id(), "a:1");
  EXPECT_EQ(spec.weight, 1.0);
  EXPECT_EQ(ParseNodeSpec("a:1=2").weight, 2.0);
  EXPECT_EQ(ParseNodeSpec("a:1=0.25").weight, 0.25);
  EXPECT_EQ(ParseNodeSpec("[::1]:7=1e2").weight, 100.0);
  for (const char* text : {"a:1=0", "a:1=-1", "a:1=", "a:1=x", "a:1=2x", "a:1=inf", "a:1=nan",
                           "a:1=1e999", "a:1= 2"}) {
    EXPECT_NE(ErrorOf(Spec, text).find("weight must be a number > 0"), std::string::npos)
        << text << ": " << ErrorOf(Spec, text);
  }
  EXPECT_NE(ErrorOf(Spec, "a:0=2").find("port"), std::string::npos);
}

TEST(ParseNodeList, SplitsOnCommasInOrder) {
  const auto nodes = ParseNodeList("a:1,b:2=3,[::1]:4");
  ASSERT_EQ(nodes.size(), 3u);
  EXPECT_EQ(nodes[0].id(), "a:1");
  EXPECT_EQ(nodes[1].id(), "b:2");
  EXPECT_EQ(nodes[1].weight, 3.0);
  EXPECT_EQ(nodes[2].id(), "[::1]:4");
}

TEST(ParseNodeList, RejectsEmptyListsItemsAndDuplicates) {
  EXPECT_NE(ErrorOf(List, "").find("empty node list"), std::string::npos);
  EXPECT_NE(ErrorOf(List, "a:1,,b:2").find("empty item"), std::string::npos);
  EXPECT_NE(ErrorOf(List, "a:1,").find("empty item"), std::string::npos);
  EXPECT_NE(ErrorOf(List, "a:1,b:2,a:1=2").find("'a:1' given twice"), std::string::npos);
  EXPECT_NE(ErrorOf(List, "a:1,b:70000").find("'b:70000'"), std::string::npos);
}

}  // namespace
}  // namespace thrifty::placement
