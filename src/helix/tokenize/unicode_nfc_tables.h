// Unicode data for NFC (generated into unicode_nfc_tables.cpp by
// gen_unicode_nfc_tables.py): every table is sorted by its first field.
#pragma once

#include <cstddef>
#include <cstdint>

namespace helix::nfc_tables {

struct CombiningClass {
  char32_t code_point;
  std::uint8_t combining_class;
};
// The full canonical decomposition of `code_point`: kDecompositionPool[offset ..
// offset + length).
struct Decomposition {
  char32_t code_point;
  std::uint16_t offset;
  std::uint8_t length;
};
// first + second -> composite (primary composites only).
struct Composition {
  char32_t first;
  char32_t second;
  char32_t composite;
};

extern const CombiningClass kCombiningClasses[];
extern const std::size_t kCombiningClassCount;
extern const Decomposition kDecompositions[];
extern const std::size_t kDecompositionCount;
extern const char32_t kDecompositionPool[];
extern const Composition kCompositions[];
extern const std::size_t kCompositionCount;

}  // namespace helix::nfc_tables
