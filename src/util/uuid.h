// Stable ids: the same text always gives the same UUID-shaped id.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <fmt/format.h>

namespace pickaxe {

// A version-8 UUID built from two FNV-1a hashes of the text.
inline std::string stable_uuid(std::string_view text) {
  uint64_t a = 0xcbf29ce484222325ULL, b = 0x84222325cbf29ce4ULL;
  for (unsigned char c : text) {
    a = (a ^ c) * 0x100000001b3ULL;
    b = (b ^ c) * 0x100000001b3ULL + 0x9e3779b97f4a7c15ULL;
  }
  return fmt::format("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", a >> 32, (a >> 16) & 0xffff,
                     (a & 0x0fff) | 0x8000, ((b >> 48) & 0x3fff) | 0x8000, b & 0xffffffffffffULL);
}

}  // namespace pickaxe
