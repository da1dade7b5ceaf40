#include "musclecsa/core/text_hash.h"

#include <cstdint>
#include <cstdio>

namespace musclecsa {

std::string fnv1a_64_hex(std::string_view text) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return hex;
}

}  // namespace musclecsa
