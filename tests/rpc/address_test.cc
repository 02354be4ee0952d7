// Addresses as flags and RPCs carry them: HOST:PORT, [v6]:PORT, lists, validation.
#include "locator/rpc/address.h"

#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

namespace thrifty::rpc {
namespace {

namespace wire = locator::wire;

// The message of the std::invalid_argument `text` raises ("" if it parses).
std::string ParseError(const std::string& text) {
  try {
    ParseLocation(text);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(ParseLocation, HostAndPort) {
  const wire::Location l = ParseLocation("127.0.0.1:9900");
  EXPECT_EQ(l.address, "127.0.0.1");
  EXPECT_EQ(l.port, 9900);
  EXPECT_EQ(ParseLocation("localhost:1").port, 1);
  EXPECT_EQ(ParseLocation("node-7.example:65535").port, 65535);
  EXPECT_EQ(ParseLocation("node-7.example:65535").address, "node-7.example");
  // Leading zeros are still a number.
  EXPECT_EQ(ParseLocation("h:0080").port, 80);
}

TEST(ParseLocation, Ipv6InBrackets) {
  wire::Location l = ParseLocation("[::1]:9900");
  EXPECT_EQ(l.address, "::1");
  EXPECT_EQ(l.port, 9900);
  l = ParseLocation("[fe80::1:2:3]:65535");
  EXPECT_EQ(l.address, "fe80::1:2:3");
  EXPECT_EQ(l.port, 65535);
  // And back: ToString puts brackets around an address with colons.
  EXPECT_EQ(ToString(l), "[fe80::1:2:3]:65535");
  EXPECT_EQ(ToString(ParseLocation("[::1]:80")), "[::1]:80");
  EXPECT_EQ(ToString(ParseLocation("127.0.0.1:80")), "127.0.0.1:80");
}

TEST(ParseLocation, RoundTripsThroughToString) {
  for (const char* text : {"127.0.0.1:1", "a:65535", "[::1]:9900", "[2001:db8::7]:443", "h.example:80"}) {
    EXPECT_EQ(ToString(ParseLocation(text)), text);
  }
}

TEST(ParseLocation, BadPortsAreRefusedWithTheReason) {
  // Outside 1..65535: the message names the port and the range.
  for (const char* port : {"0", "-1", "65536", "99999", "2147483647"}) {
    const std::string error = ParseError(std::string("127.0.0.1:") + port);
    EXPECT_NE(error.find(port), std::string::npos) << port << ": " << error;
    EXPECT_NE(error.find("1..65535"), std::string::npos) << port << ": " << error;
  }
  // Not a number at all.
  for (const char* text : {"h:abc", "h:", "h:80x", "h: 80", "h:+80", "h:8 0", "h:0x50",
                           "h:99999999999999999999"}) {
    const std::string error = ParseError(text);
    EXPECT_NE(error.find("not a number"), std::string::npos) << text << ": " << error;
    EXPECT_NE(error.find(text), std::string::npos) << "names the input: " << error;
  }
}

TEST(ParseLocation, MissingOrEmptyHostIsRefused) {
  EXPECT_NE(ParseError(":80").find("empty address"), std::string::npos) << ParseError(":80");
  EXPECT_NE(ParseError("[]:80").find("empty address"), std::string::npos) << ParseError("[]:80");
  EXPECT_NE(ParseError("localhost").find("not HOST:PORT"), std::string::npos);
  EXPECT_NE(ParseError("").find("not HOST:PORT"), std::string::npos);
  // A bracketed IPv6 address without a port.
  EXPECT_NE(ParseError("[::1]"), "");
  // Longer than a DNS name can be.
  EXPECT_NE(ParseError(std::string(256, 'h') + ":80").find("255"), std::string::npos);
  EXPECT_EQ(ParseError(std::string(255, 'h') + ":80"), "");
}

TEST(ParseLocation, UnbalancedBracketsAreRefused) {
  // "[::1:80" and "::1]:80" are neither HOST:PORT nor [v6]:PORT.
  EXPECT_NE(ParseError("[::1:80"), "") << "accepted as address '" << ParseLocation("[::1:80").address << "'";
  EXPECT_NE(ParseError("::1]:80"), "") << "accepted as address '" << ParseLocation("::1]:80").address << "'";
}

TEST(ParseLocations, CommaSeparatedList) {
  auto list = ParseLocations("a:1,[::1]:2,c:3");
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0].address, "a");
  EXPECT_EQ(list[1].address, "::1");
  EXPECT_EQ(list[2].port, 3);
  // Empty items (a trailing comma, doubled commas) are skipped; an empty text is no peers.
  EXPECT_EQ(ParseLocations("a:1,,b:2,").size(), 2u);
  EXPECT_TRUE(ParseLocations("").empty());
  // One bad item fails the whole list.
  EXPECT_THROW(ParseLocations("a:1,b:0"), std::invalid_argument);
  EXPECT_THROW(ParseLocations("a:1,b"), std::invalid_argument);
}

TEST(ValidateLocation, ChecksAddressAndPort) {
  EXPECT_NO_THROW(ValidateLocation(MakeLocation("127.0.0.1", 1)));
  EXPECT_NO_THROW(ValidateLocation(MakeLocation("::1", 65535)));
  for (int port : {0, -1, 65536, -65535, 1 << 30}) {
    try {
      ValidateLocation(MakeLocation("127.0.0.1", port));
      ADD_FAILURE() << "port " << port << " accepted";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(std::to_string(port)), std::string::npos) << e.what();
    }
  }
  try {
    ValidateLocation(MakeLocation("", 80));
    ADD_FAILURE() << "empty address accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("empty address"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ValidateLocation(MakeLocation(std::string(256, 'a'), 80)), std::invalid_argument);
}

}  // namespace
}  // namespace thrifty::rpc
