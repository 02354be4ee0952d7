// HashFunction: a named 64-bit hash of a byte string. Placement schemes take one of these so
// that the scheme and the hash can be chosen independently ("rendezvous/siphash").
//
// Every implementation is deterministic across processes, machines and releases: nodes of one
// cluster (and storeselect) must place every key alike, so an output may never change.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

namespace thrifty::hash {

class HashFunction {
 public:
  virtual ~HashFunction() = default;

  HashFunction(const HashFunction&) = delete;
  HashFunction& operator=(const HashFunction&) = delete;

  // Returns the 64-bit hash of `data` (any bytes, any length).
  // Thread-safe: may be called from many threads at once. Throws only if a library it rests on
  // fails (OpenSSL out of memory: std::runtime_error).
  virtual uint64_t hash(std::string_view data) const = 0;

  // The name MakeHashFunction knows it by: "md5", "siphash", "xxh64", "xxh3" or "fnv1a".
  virtual std::string_view name() const = 0;

 protected:
  HashFunction() = default;
};

// The names MakeHashFunction accepts, in a fixed order (for help texts and errors).
const std::vector<std::string_view>& HashFunctionNames();

// Returns the hash function called `name` (see HashFunctionNames(); "siphash" uses
// kDefaultSipHashKey).
// Fails: std::invalid_argument naming the known functions if `name` is not one of them;
// std::runtime_error if OpenSSL cannot provide the algorithm.
std::unique_ptr<HashFunction> MakeHashFunction(std::string_view name);

}  // namespace thrifty::hash
