#include "locator/hash/hash_function.h"

#include <stdexcept>
#include <string>

#include "locator/hash/fnv1a.h"
#include "locator/hash/md5.h"
#include "locator/hash/siphash.h"
#include "locator/hash/xxhash.h"

namespace thrifty::hash {

const std::vector<std::string_view>& HashFunctionNames() {
  static const std::vector<std::string_view> names = {"md5", "siphash", "xxh64", "xxh3", "fnv1a"};
  return names;
}

std::unique_ptr<HashFunction> MakeHashFunction(std::string_view name) {
  if (name == "md5") return std::make_unique<Md5Hash>();
  if (name == "siphash") return std::make_unique<SipHash24>(kDefaultSipHashKey);
  if (name == "xxh64") return std::make_unique<Xxh64Hash>();
  if (name == "xxh3") return std::make_unique<Xxh3Hash>();
  if (name == "fnv1a") return std::make_unique<Fnv1aHash>();
  std::string known;
  for (std::string_view n : HashFunctionNames()) {
    if (!known.empty()) known += ", ";
    known += n;
  }
  throw std::invalid_argument("unknown hash function '" + std::string(name) + "' (known: " + known +
                              ")");
}

}  // namespace thrifty::hash
