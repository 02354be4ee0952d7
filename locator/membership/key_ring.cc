#include "locator/membership/key_ring.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <boost/asio/ip/address.hpp>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace thrifty::membership {

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string_view Trim(std::string_view s) {
  const char* ws = " \t\r\n\v\f";
  const size_t begin = s.find_first_not_of(ws);
  if (begin == std::string_view::npos) return {};
  const size_t end = s.find_last_not_of(ws);
  return s.substr(begin, end - begin + 1);
}

void AppendLengthPrefixed(EVP_MAC_CTX* ctx, std::string_view part) {
  const uint64_t n = part.size();
  uint8_t len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(n >> (56 - 8 * i));
  EVP_MAC_update(ctx, len, sizeof len);
  EVP_MAC_update(ctx, reinterpret_cast<const uint8_t*>(part.data()), part.size());
}

}  // namespace

struct KeyRing::Contexts {
  std::vector<EVP_MAC_CTX*> keyed;
  ~Contexts() {
    for (EVP_MAC_CTX* ctx : keyed) EVP_MAC_CTX_free(ctx);
  }
};

KeyRing KeyRing::FromFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cluster key file '" + path + "': cannot be read");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw std::runtime_error("cluster key file '" + path + "': read error");
  return Parse(text.str(), "cluster key file '" + path + "'");
}

KeyRing KeyRing::Parse(std::string_view text, const std::string& origin) {
  std::vector<std::string> keys;
  size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    const size_t eol = text.find('\n');
    std::string_view line = Trim(text.substr(0, eol));
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    if (line.empty() || line[0] == '#') continue;
    const std::string where = origin + ": line " + std::to_string(line_no) + ": ";
    if (line.size() % 2 != 0) throw std::runtime_error(where + "odd number of hex digits");
    std::string key;
    key.reserve(line.size() / 2);
    for (size_t i = 0; i < line.size(); i += 2) {
      const int hi = HexValue(line[i]);
      const int lo = HexValue(line[i + 1]);
      if (hi < 0 || lo < 0) {
        throw std::runtime_error(where + "not a hex key (one hex-encoded key per line)");
      }
      key.push_back(static_cast<char>(hi * 16 + lo));
    }
    if (key.size() < kMinKeySize) {
      throw std::runtime_error(where + "key is " + std::to_string(key.size()) +
                               " bytes, needs at least " + std::to_string(kMinKeySize) +
                               " (" + std::to_string(2 * kMinKeySize) + " hex digits)");
    }
    if (key.size() > kMaxKeySize) {
      throw std::runtime_error(where + "key is longer than " + std::to_string(kMaxKeySize) +
                               " bytes");
    }
    for (const auto& other : keys) {
      if (other == key) throw std::runtime_error(where + "duplicate key");
    }
    keys.push_back(std::move(key));
  }
  if (keys.empty()) throw std::runtime_error(origin + ": no key (one hex-encoded key per line)");
  return KeyRing(std::move(keys), false);
}

KeyRing KeyRing::DevelopmentKey() {
  return KeyRing({std::string("thrifty development key: loopback only")}, true);
}

KeyRing::KeyRing(std::vector<std::string> keys) : KeyRing(std::move(keys), false) {}

KeyRing::KeyRing(std::vector<std::string> keys, bool development)
    : keys_(std::move(keys)), development_(development) {
  if (keys_.empty()) throw std::invalid_argument("key ring: no key");
  for (const auto& key : keys_) {
    if (key.size() < kMinKeySize || key.size() > kMaxKeySize) {
      throw std::invalid_argument("key ring: keys must be " + std::to_string(kMinKeySize) +
                                  ".." + std::to_string(kMaxKeySize) + " bytes");
    }
  }
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  if (mac == nullptr) throw std::runtime_error("key ring: OpenSSL has no HMAC");
  auto contexts = std::make_shared<Contexts>();
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_end(),
  };
  for (const auto& key : keys_) {
    EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac);
    if (ctx != nullptr) contexts->keyed.push_back(ctx);
    if (ctx == nullptr || EVP_MAC_init(ctx, reinterpret_cast<const uint8_t*>(key.data()),
                                       key.size(), params) != 1) {
      EVP_MAC_free(mac);
      throw std::runtime_error("key ring: cannot set up HMAC-SHA256");
    }
  }
  EVP_MAC_free(mac);  // the contexts hold their own references
  contexts_ = std::move(contexts);
}

KeyRing::Mac KeyRing::compute(size_t key_index, std::string_view purpose,
                              std::string_view data) const {
  Mac out{};
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_dup(contexts_->keyed[key_index]);
  if (ctx == nullptr) throw std::bad_alloc();
  AppendLengthPrefixed(ctx, purpose);
  AppendLengthPrefixed(ctx, data);
  size_t out_len = 0;
  const bool done = EVP_MAC_final(ctx, out.data(), &out_len, out.size()) == 1;
  EVP_MAC_CTX_free(ctx);
  if (!done || out_len != kMacSize) throw std::runtime_error("key ring: HMAC-SHA256 failed");
  return out;
}

KeyRing::Mac KeyRing::sign(std::string_view purpose, std::string_view data) const {
  return compute(0, purpose, data);
}

bool KeyRing::verify(std::string_view purpose, std::string_view data, const uint8_t* mac,
                     size_t mac_size) const {
  if (mac == nullptr || mac_size != kMacSize) return false;
  bool match = false;
  // Every key is tried even after a match: the time taken does not tell which key matched.
  for (size_t i = 0; i < keys_.size(); ++i) {
    const Mac expected = compute(i, purpose, data);
    match |= CRYPTO_memcmp(expected.data(), mac, kMacSize) == 0;
  }
  return match;
}

std::string KeyRing::fingerprint() const {
  uint8_t digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(keys_.front().data(), keys_.front().size(), digest, &len, EVP_sha256(),
                 nullptr) != 1) {
    return "?";
  }
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 4; ++i) {
    out.push_back(hex[digest[i] >> 4]);
    out.push_back(hex[digest[i] & 15]);
  }
  return out;
}

bool IsLoopback(const std::string& address) {
  if (address == "localhost" || address == "localhost.localdomain" ||
      address == "ip6-localhost") {
    return true;
  }
  boost::system::error_code ec;
  const auto ip = boost::asio::ip::make_address(address, ec);
  if (ec) return false;
  if (ip.is_loopback()) return true;
  if (ip.is_v6() && ip.to_v6().is_v4_mapped()) {
    return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, ip.to_v6()).is_loopback();
  }
  return false;
}

}  // namespace thrifty::membership
