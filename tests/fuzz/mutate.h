// Mutate: a few random edits of a valid input (bit flips, interesting bytes, truncation,
// insertions, duplicated slices, huge varints), for the plain fuzz drivers that gcc builds run.
#pragma once

#include <random>
#include <string>

namespace thrifty::fuzz {

inline std::string Mutate(std::string s, std::mt19937_64& rng) {
  const int edits = 1 + static_cast<int>(rng() % 4);
  for (int e = 0; e < edits; ++e) {
    const size_t pos = s.empty() ? 0 : rng() % s.size();
    switch (rng() % 6) {
      case 0:  // flip a bit
        if (!s.empty()) s[pos] = static_cast<char>(s[pos] ^ (1 << (rng() % 8)));
        break;
      case 1:  // set a byte to an interesting value
        if (!s.empty()) s[pos] = "\x00\x01\x7f\x80\xff\x15\x19\x1c"[rng() % 8];
        break;
      case 2:  // truncate
        s.resize(pos);
        break;
      case 3:  // insert random bytes
        s.insert(pos, std::string(1 + rng() % 8, static_cast<char>(rng())));
        break;
      case 4:  // duplicate a slice
        if (!s.empty()) s.insert(pos, s.substr(rng() % s.size(), 1 + rng() % 16));
        break;
      case 5:  // huge varint
        s.insert(pos, "\xff\xff\xff\xff\x0f");
        break;
    }
  }
  return s;
}

}  // namespace thrifty::fuzz
