#include <cstdint>
#include <string>

#include "musclecsa/dicom/series_writer.h"

namespace musclecsa::dicom {
namespace {

std::uint64_t fnv1a(std::string_view text, std::uint64_t basis) {
  std::uint64_t h = basis;
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

std::uint64_t splitmix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace

std::string uid_from_text(std::string_view text) {
  std::uint64_t hi = splitmix(fnv1a(text, 0xcbf29ce484222325ull));
  std::uint64_t lo = splitmix(fnv1a(text, 0x84222325cbf29ce4ull) ^ hi);
  hi = (hi & ~0xF000ull) | 0x8000ull;                       // version 8 (custom) in bits 48-51
  lo = (lo & 0x3FFFFFFFFFFFFFFFull) | 0x8000000000000000ull;  // RFC variant
  __extension__ typedef unsigned __int128 uint128;
  uint128 value = (static_cast<uint128>(hi) << 64) | lo;
  std::string digits;
  do {
    digits.insert(digits.begin(), static_cast<char>('0' + static_cast<int>(value % 10)));
    value /= 10;
  } while (value != 0);
  return "2.25." + digits;
}

}  // namespace musclecsa::dicom
