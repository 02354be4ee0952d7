#include "locator/hash/siphash.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <atomic>
#include <stdexcept>
#include <string>

namespace thrifty::hash {
namespace {

constexpr size_t kOutputSize = 8;

[[noreturn]] void ThrowOpenSslError(const char* what) {
  std::string message = std::string("SipHash-2-4 via OpenSSL: ") + what;
  if (unsigned long code = ERR_get_error(); code != 0) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof(buf));
    message += ": ";
    message += buf;
  }
  ERR_clear_error();
  throw std::runtime_error(message);
}

// Each thread keeps one fetched SIPHASH and one context: fetching and creating them costs
// microseconds, while re-initialising a context that already holds the key costs ~100 ns and
// re-keying ~150 ns (a whole short hash is ~100 ns). Rendezvous hashes once per node per lookup,
// so this is the difference between usable and not.
class ThreadMac {
 public:
  ThreadMac() = default;
  ThreadMac(const ThreadMac&) = delete;
  ThreadMac& operator=(const ThreadMac&) = delete;
  ~ThreadMac() {
    EVP_MAC_CTX_free(ctx_);
    EVP_MAC_free(mac_);
  }

  // Returns this thread's context, initialised with `key` and ready for EVP_MAC_update.
  EVP_MAC_CTX* Start(uint64_t key_id, const SipHashKey& key) {
    if (ctx_ == nullptr) {
      if (mac_ == nullptr) mac_ = EVP_MAC_fetch(nullptr, OSSL_MAC_NAME_SIPHASH, nullptr);
      if (mac_ == nullptr) ThrowOpenSslError("cannot fetch SIPHASH");
      ctx_ = EVP_MAC_CTX_new(mac_);
      if (ctx_ == nullptr) ThrowOpenSslError("cannot create a context");
    }
    // A NULL key re-initialises with the key the context already holds.
    if (keyed_for_ == key_id && EVP_MAC_init(ctx_, nullptr, 0, nullptr) == 1) return ctx_;
    size_t size = kOutputSize;
    const OSSL_PARAM params[] = {OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &size),
                                 OSSL_PARAM_construct_end()};
    keyed_for_ = 0;
    if (EVP_MAC_init(ctx_, key.data(), key.size(), params) != 1) ThrowOpenSslError("cannot key");
    keyed_for_ = key_id;
    return ctx_;
  }

 private:
  EVP_MAC* mac_ = nullptr;
  EVP_MAC_CTX* ctx_ = nullptr;
  uint64_t keyed_for_ = 0;  // 0: no instance's key
};

thread_local ThreadMac t_mac;

uint64_t NextInstanceId() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

SipHash24::SipHash24(const SipHashKey& key) : key_(key), id_(NextInstanceId()) {
  mac(std::string_view());  // fail here, not on the first lookup, if OpenSSL lacks SIPHASH
}

std::array<uint8_t, 8> SipHash24::mac(std::string_view data) const {
  EVP_MAC_CTX* ctx = t_mac.Start(id_, key_);
  std::array<uint8_t, 8> out{};
  size_t out_len = 0;
  if (EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1 ||
      EVP_MAC_final(ctx, out.data(), &out_len, out.size()) != 1 || out_len != out.size()) {
    ThrowOpenSslError("cannot compute");
  }
  return out;
}

uint64_t SipHash24::hash(std::string_view data) const {
  const std::array<uint8_t, 8> out = mac(data);
  uint64_t h = 0;
  for (int i = 7; i >= 0; --i) h = h << 8 | out[i];
  return h;
}

}  // namespace thrifty::hash
