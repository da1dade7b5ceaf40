#pragma once
// A short, stable fingerprint of a text (protocol definitions: the "hash" written into every output).

#include <string>
#include <string_view>

namespace musclecsa {

/// 64-bit FNV-1a of the bytes of `text`, as 16 lower-case hex digits. Stable across platforms and
/// versions; not a cryptographic hash.
std::string fnv1a_64_hex(std::string_view text);

}  // namespace musclecsa
