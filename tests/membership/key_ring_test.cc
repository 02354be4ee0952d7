#include "locator/membership/key_ring.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "locator/membership/join_proof.h"

namespace thrifty::membership {
namespace {

const std::string kHexA = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const std::string kHexB = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";

std::string Unhex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

bool Verifies(const KeyRing& ring, const KeyRing::Mac& mac, const std::string& data) {
  return ring.verify("p", data, mac.data(), mac.size());
}

TEST(KeyRing, ParsesHexLinesCommentsAndBlanks) {
  const KeyRing ring = KeyRing::Parse("# cluster keys\n\n  " + kHexA + "  \r\n" + kHexB + "\n");
  EXPECT_EQ(ring.size(), 2u);
  EXPECT_FALSE(ring.is_development());
  // The first line signs.
  EXPECT_EQ(ring.sign("p", "x"), KeyRing({Unhex(kHexA)}).sign("p", "x"));
}

TEST(KeyRing, RejectsBadFilesWithLineNumbers) {
  const auto error = [](const std::string& text) {
    try {
      KeyRing::Parse(text, "keys.txt");
    } catch (const std::runtime_error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(error(""), "keys.txt: no key (one hex-encoded key per line)");
  EXPECT_EQ(error("# only a comment\n\n"), "keys.txt: no key (one hex-encoded key per line)");
  EXPECT_EQ(error("00112233445566778899aabbccddee\n"),
            "keys.txt: line 1: key is 15 bytes, needs at least 16 (32 hex digits)");
  EXPECT_EQ(error(kHexA + "\n" + "xyz" + kHexA.substr(3) + "\n"),
            "keys.txt: line 2: not a hex key (one hex-encoded key per line)");
  EXPECT_EQ(error(kHexA + "0\n"), "keys.txt: line 1: odd number of hex digits");
  EXPECT_EQ(error(kHexA + "\n" + kHexA + "\n"), "keys.txt: line 2: duplicate key");
  EXPECT_EQ(error(std::string(514, 'a')), "keys.txt: line 1: key is longer than 256 bytes");
  // The key itself never appears in an error.
  EXPECT_EQ(error(kHexA + "0").find(kHexA), std::string::npos);
}

TEST(KeyRing, ReadsFilesAndNamesMissingOnes) {
  const std::string file =
      (std::filesystem::temp_directory_path() / ("thrifty-keyring-" + std::to_string(getpid())))
          .string();
  const char* path = file.c_str();
  std::ofstream(path) << kHexB << "\n" << kHexA << "\n";
  const KeyRing ring = KeyRing::FromFile(path);
  EXPECT_EQ(ring.size(), 2u);
  std::remove(path);
  try {
    KeyRing::FromFile(path);
    FAIL() << "a missing file must throw";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()), "cluster key file '" + std::string(path) + "': cannot be read");
  }
}

TEST(KeyRing, RejectsShortRawKeys) {
  EXPECT_THROW(KeyRing(std::vector<std::string>{}), std::invalid_argument);
  EXPECT_THROW(KeyRing({std::string(15, 'k')}), std::invalid_argument);
  EXPECT_NO_THROW(KeyRing({std::string(16, 'k')}));
}

TEST(KeyRing, RotationKeepsOldSignaturesValid) {
  const KeyRing old_ring = KeyRing::Parse(kHexA);
  const KeyRing::Mac old_mac = old_ring.sign("p", "packet");
  // Step 1: the new key is added second everywhere; step 2: it becomes first.
  const KeyRing both = KeyRing::Parse(kHexB + "\n" + kHexA);
  EXPECT_TRUE(Verifies(both, old_mac, "packet"));
  const KeyRing::Mac new_mac = both.sign("p", "packet");
  EXPECT_NE(new_mac, old_mac);
  EXPECT_FALSE(Verifies(old_ring, new_mac, "packet")) << "old-only nodes do not know the new key";
  // Step 3: the old key is removed: its signatures stop verifying.
  const KeyRing new_only = KeyRing::Parse(kHexB);
  EXPECT_TRUE(Verifies(new_only, new_mac, "packet"));
  EXPECT_FALSE(Verifies(new_only, old_mac, "packet"));
}

TEST(KeyRing, RejectsWrongKeyDataPurposeAndLength) {
  const KeyRing ring = KeyRing::Parse(kHexA);
  const KeyRing other = KeyRing::Parse(kHexB);
  const KeyRing::Mac mac = ring.sign("p", "data");
  EXPECT_TRUE(Verifies(ring, mac, "data"));
  EXPECT_FALSE(Verifies(other, mac, "data"));
  EXPECT_FALSE(Verifies(ring, mac, "datA"));
  EXPECT_FALSE(ring.verify("q", "data", mac.data(), mac.size()));
  EXPECT_FALSE(ring.verify("p", "data", mac.data(), mac.size() - 1));
  EXPECT_FALSE(ring.verify("p", "data", nullptr, 32));
  // Length prefixes: moving bytes between purpose and data changes the MAC.
  EXPECT_FALSE(ring.verify("pd", "ata", mac.data(), mac.size()));
}

TEST(KeyRing, MacIsHmacSha256OfLengthPrefixedParts) {
  const std::string key = Unhex(kHexA);
  const KeyRing ring({key});
  std::string message;
  for (std::string part : {"purpose", "some data"}) {
    for (int i = 7; i >= 0; --i) message.push_back(static_cast<char>(part.size() >> (8 * i)));
    message += part;
  }
  unsigned char expected[32];
  unsigned int len = 0;
  ASSERT_NE(HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
                 reinterpret_cast<const unsigned char*>(message.data()), message.size(),
                 expected, &len),
            nullptr);
  ASSERT_EQ(len, 32u);
  const KeyRing::Mac mac = ring.sign("purpose", "some data");
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(mac.data()), 32),
            std::string(reinterpret_cast<const char*>(expected), 32));
}

TEST(KeyRing, DevelopmentKeyAndFingerprint) {
  const KeyRing dev = KeyRing::DevelopmentKey();
  EXPECT_TRUE(dev.is_development());
  EXPECT_EQ(dev.sign("p", "x"), KeyRing::DevelopmentKey().sign("p", "x"));
  const std::string fp = KeyRing::Parse(kHexA).fingerprint();
  EXPECT_EQ(fp.size(), 8u);
  EXPECT_NE(fp, KeyRing::Parse(kHexB).fingerprint());
  EXPECT_EQ(fp, KeyRing::Parse(kHexA + "\n" + kHexB).fingerprint()) << "the signing key's";
}

TEST(KeyRing, IsLoopback) {
  for (const char* yes : {"127.0.0.1", "127.1.2.3", "::1", "localhost", "::ffff:127.0.0.1"}) {
    EXPECT_TRUE(IsLoopback(yes)) << yes;
  }
  for (const char* no : {"10.0.0.1", "0.0.0.0", "::", "192.168.1.1", "example.com", "",
                         "fe80::1", "::ffff:10.0.0.1"}) {
    EXPECT_FALSE(IsLoopback(no)) << no;
  }
}

TEST(JoinProof, ValidWithinWindowForTheSameCallAndCaller) {
  const KeyRing ring = KeyRing::Parse(kHexA);
  const int64_t now = 1'700'000'000'000;
  const std::string proof = JoinProof::Make(ring, JoinProof::kJoin, "10.0.0.7:9000", now);
  EXPECT_EQ(proof.size(), JoinProof::kSize);
  EXPECT_EQ(JoinProof::Verify(ring, JoinProof::kJoin, "10.0.0.7:9000", proof, now),
            JoinProof::Result::ok);
  EXPECT_EQ(JoinProof::Verify(ring, JoinProof::kJoin, "10.0.0.7:9000", proof, now + 299'000),
            JoinProof::Result::ok);
  EXPECT_EQ(JoinProof::Verify(ring, JoinProof::kJoin, "10.0.0.7:9000", proof, now - 299'000),
            JoinProof::Result::ok) << "clock skew both ways";
  // Rotation: a ring that has the key second still accepts it.
  EXPECT_EQ(JoinProof::Verify(KeyRing::Parse(kHexB + "\n" + kHexA), JoinProof::kJoin,
                              "10.0.0.7:9000", proof, now),
            JoinProof::Result::ok);
}

TEST(JoinProof, ExpiredProofsAreRejected) {
  const KeyRing ring = KeyRing::Parse(kHexA);
  const int64_t now = 1'700'000'000'000;
  const std::string proof = JoinProof::Make(ring, JoinProof::kSync, "h:1", now);
  EXPECT_EQ(JoinProof::Verify(ring, JoinProof::kSync, "h:1", proof, now + 301'000),
            JoinProof::Result::expired);
  EXPECT_EQ(JoinProof::Verify(ring, JoinProof::kSync, "h:1", proof, now - 301'000),
            JoinProof::Result::expired);
  EXPECT_EQ(JoinProof::Verify(ring, JoinProof::kSync, "h:1", proof, now + 20'000, 10'000),
            JoinProof::Result::expired);
  // Absurd timestamps do not overflow into validity.
  const std::string far = JoinProof::Make(ring, JoinProof::kSync, "h:1", INT64_MIN);
  EXPECT_EQ(JoinProof::Verify(ring, JoinProof::kSync, "h:1", far, now), JoinProof::Result::expired);
  const std::string future = JoinProof::Make(ring, JoinProof::kSync, "h:1", INT64_MAX);
  EXPECT_EQ(JoinProof::Verify(ring, JoinProof::kSync, "h:1", future, now),
            JoinProof::Result::expired);
}

TEST(JoinProof, ForgedProofsAreRejected) {
  const KeyRing ring = KeyRing::Parse(kHexA);
  const KeyRing attacker = KeyRing::Parse(kHexB);
  const int64_t now = 1'700'000'000'000;
  const std::string proof = JoinProof::Make(ring, JoinProof::kAdd, "10.0.0.7:9000", now);
  EXPECT_EQ(JoinProof::Verify(ring, JoinProof::kAdd, "10.0.0.7:9000",
                              JoinProof::Make(attacker, JoinProof::kAdd, "10.0.0.7:9000", now), now),
            JoinProof::Result::bad_mac);
  // Replayed for another member or another call.
  EXPECT_EQ(JoinProof::Verify(ring, JoinProof::kAdd, "10.0.0.8:9000", proof, now),
            JoinProof::Result::bad_mac);
  EXPECT_EQ(JoinProof::Verify(ring, JoinProof::kRemove, "10.0.0.7:9000", proof, now),
            JoinProof::Result::bad_mac);
  // A moved timestamp breaks the MAC.
  std::string shifted = proof;
  shifted[7] = static_cast<char>(shifted[7] ^ 1);
  EXPECT_EQ(JoinProof::Verify(ring, JoinProof::kAdd, "10.0.0.7:9000", shifted, now),
            JoinProof::Result::bad_mac);
  for (size_t i = 8; i < proof.size(); ++i) {
    std::string flipped = proof;
    flipped[i] = static_cast<char>(flipped[i] ^ 0x40);
    EXPECT_EQ(JoinProof::Verify(ring, JoinProof::kAdd, "10.0.0.7:9000", flipped, now),
              JoinProof::Result::bad_mac);
  }
  EXPECT_EQ(JoinProof::Verify(ring, JoinProof::kAdd, "10.0.0.7:9000", "", now),
            JoinProof::Result::malformed);
  EXPECT_EQ(JoinProof::Verify(ring, JoinProof::kAdd, "10.0.0.7:9000", proof + "x", now),
            JoinProof::Result::malformed);
  EXPECT_STRNE(JoinProof::ResultName(JoinProof::Result::bad_mac), "ok");
}

// A sync proof binds the member list it came with (a captured one used to carry any list).
TEST(JoinProofTest, SyncDigestCoversEveryFieldOfTheList) {
  locator::wire::Member a;
  a.location.address = "127.0.0.1";
  a.location.port = 9900;
  a.incarnation = 7;
  a.metadata["weight"] = "1";
  locator::wire::Member b = a;
  b.location.port = 9901;
  const std::string digest = JoinProof::SyncDigest({a, b});
  EXPECT_EQ(digest.size(), 64u);
  EXPECT_EQ(digest, JoinProof::SyncDigest({a, b}));
  EXPECT_NE(digest, JoinProof::SyncDigest({b, a}));
  EXPECT_NE(digest, JoinProof::SyncDigest({a}));
  locator::wire::Member changed = b;
  changed.state = locator::wire::MemberState::DEAD;
  EXPECT_NE(digest, JoinProof::SyncDigest({a, changed}));
  changed = b;
  changed.metadata["weight"] = "2";
  EXPECT_NE(digest, JoinProof::SyncDigest({a, changed}));
  const auto ring = KeyRing::DevelopmentKey();
  const int64_t now = 1'700'000'000'000;
  const std::string proof = JoinProof::Make(ring, JoinProof::kSync, digest, now);
  EXPECT_EQ(JoinProof::Verify(ring, JoinProof::kSync, digest, proof, now), JoinProof::Result::ok);
  EXPECT_EQ(JoinProof::Verify(ring, JoinProof::kSync, JoinProof::SyncDigest({a}), proof, now),
            JoinProof::Result::bad_mac);
}

}  // namespace
}  // namespace thrifty::membership
