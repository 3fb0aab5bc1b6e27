// Hashing and comparing short byte strings on the hot path, inline: keys
// and field values are mostly a few dozen bytes, where a library call costs
// more than the work.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

namespace pickaxe {

// Whether the `size` bytes at `a` and at `b` are the same.
inline bool same_bytes(const char* a, const char* b, size_t size) {
  uint64_t x, y;
  if (size >= 8) {
    for (size_t at = 0; at + 8 <= size; at += 8) {
      std::memcpy(&x, a + at, 8);
      std::memcpy(&y, b + at, 8);
      if (x != y) return false;
    }
    std::memcpy(&x, a + size - 8, 8);  // the last word, overlapping
    std::memcpy(&y, b + size - 8, 8);
    return x == y;
  }
  if (size >= 4) {
    uint32_t p, q, r, t;
    std::memcpy(&p, a, 4);
    std::memcpy(&q, b, 4);
    std::memcpy(&r, a + size - 4, 4);
    std::memcpy(&t, b + size - 4, 4);
    return p == q && r == t;
  }
  for (size_t at = 0; at < size; ++at)
    if (a[at] != b[at]) return false;
  return true;
}

// A 64-bit hash of `text`, a word at a time, mixed so that its low bits
// (which open-addressed tables use) depend on every byte. Not for
// adversarial keys' sake, only for speed: tables using it are bounded.
inline uint64_t hash_bytes(std::string_view text, uint64_t seed = 0) {
  constexpr uint64_t kMultiplier = 0x9E3779B97F4A7C15ULL;
  uint64_t hash = seed ^ (text.size() * kMultiplier);
  const char* at = text.data();
  size_t left = text.size();
  uint64_t word;
  for (; left >= 8; at += 8, left -= 8) {
    std::memcpy(&word, at, 8);
    hash = (hash ^ word) * kMultiplier;
    hash ^= hash >> 32;
  }
  // The last bytes, read as whole words: a byte-wise copy into a word would
  // stall the load that follows it.
  if (left > 0) {
    if (text.size() >= 8) {
      std::memcpy(&word, text.data() + text.size() - 8, 8);
      word >>= (8 - left) * 8;
    } else if (left >= 4) {
      uint32_t low, high;
      std::memcpy(&low, at, 4);
      std::memcpy(&high, at + left - 4, 4);
      word = (uint64_t{high} << 32) | low;
    } else {
      word = static_cast<uint64_t>(static_cast<unsigned char>(at[0])) |
             static_cast<uint64_t>(static_cast<unsigned char>(at[left / 2])) << 8 |
             static_cast<uint64_t>(static_cast<unsigned char>(at[left - 1])) << 16;
    }
    hash = (hash ^ word) * kMultiplier;
  }
  // Murmur3's finaliser.
  hash ^= hash >> 33;
  hash *= 0xFF51AFD7ED558CCDULL;
  hash ^= hash >> 33;
  hash *= 0xC4CEB2F53A4F5E2BULL;
  hash ^= hash >> 33;
  return hash;
}

}  // namespace pickaxe
