#include "helix/tokenize/unicode_nfc.h"

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "helix/tokenize/unicode_nfc_tables.h"
#include "helix/tokenize/utf8.h"

namespace helix {
namespace {

using namespace nfc_tables;

// Hangul syllables are composed arithmetically (Unicode 3.12).
constexpr char32_t kHangulFirst = 0xAC00;
constexpr char32_t kLeadFirst = 0x1100;
constexpr char32_t kVowelFirst = 0x1161;
constexpr char32_t kTrailFirst = 0x11A7;
constexpr char32_t kLeadCount = 19;
constexpr char32_t kVowelCount = 21;
constexpr char32_t kTrailCount = 28;
constexpr char32_t kSyllablesPerLead = kVowelCount * kTrailCount;
constexpr char32_t kSyllableCount = kLeadCount * kSyllablesPerLead;

bool is_hangul_syllable(char32_t cp) { return cp >= kHangulFirst && cp < kHangulFirst + kSyllableCount; }

int combining_class(char32_t cp) {
  if (cp < 0x300) return 0;
  const CombiningClass* end = kCombiningClasses + kCombiningClassCount;
  const CombiningClass* it = std::lower_bound(kCombiningClasses, end, cp,
                                              [](const CombiningClass& e, char32_t key) { return e.code_point < key; });
  return it != end && it->code_point == cp ? it->combining_class : 0;
}

const Decomposition* find_decomposition(char32_t cp) {
  const Decomposition* end = kDecompositions + kDecompositionCount;
  const Decomposition* it = std::lower_bound(kDecompositions, end, cp,
                                             [](const Decomposition& e, char32_t key) { return e.code_point < key; });
  return it != end && it->code_point == cp ? it : nullptr;
}

char32_t compose_pair(char32_t first, char32_t second) {
  if (first >= kLeadFirst && first < kLeadFirst + kLeadCount && second >= kVowelFirst &&
      second < kVowelFirst + kVowelCount) {
    return kHangulFirst + ((first - kLeadFirst) * kVowelCount + (second - kVowelFirst)) * kTrailCount;
  }
  if (is_hangul_syllable(first) && (first - kHangulFirst) % kTrailCount == 0 && second > kTrailFirst &&
      second < kTrailFirst + kTrailCount) {
    return first + (second - kTrailFirst);
  }
  const Composition* end = kCompositions + kCompositionCount;
  const Composition* it = std::lower_bound(kCompositions, end, std::make_pair(first, second),
                                           [](const Composition& e, const std::pair<char32_t, char32_t>& key) {
                                             return std::make_pair(e.first, e.second) < key;
                                           });
  return it != end && it->first == first && it->second == second ? it->composite : 0;
}

// Whether `cp` may change under NFC or change its neighbours: it decomposes,
// is a non-starter, or can be the second half of a composition.
bool may_change(char32_t cp) {
  if (cp < 0x300) return false;
  if (is_hangul_syllable(cp)) return false;  // already composed; trailing jamo are checked themselves
  if (cp >= kLeadFirst && cp < 0x1200) return true;
  if (combining_class(cp) != 0 || find_decomposition(cp) != nullptr) return true;
  static const std::vector<char32_t> seconds = [] {
    std::vector<char32_t> list;
    for (std::size_t i = 0; i < kCompositionCount; ++i) list.push_back(kCompositions[i].second);
    std::sort(list.begin(), list.end());
    return list;
  }();
  return std::binary_search(seconds.begin(), seconds.end(), cp);
}

void decompose(char32_t cp, std::vector<char32_t>& out) {
  if (is_hangul_syllable(cp)) {
    const char32_t index = cp - kHangulFirst;
    out.push_back(kLeadFirst + index / kSyllablesPerLead);
    out.push_back(kVowelFirst + (index % kSyllablesPerLead) / kTrailCount);
    if (index % kTrailCount != 0) out.push_back(kTrailFirst + index % kTrailCount);
    return;
  }
  if (const Decomposition* d = find_decomposition(cp)) {
    out.insert(out.end(), kDecompositionPool + d->offset, kDecompositionPool + d->offset + d->length);
  } else {
    out.push_back(cp);
  }
}

// Stable-sorts every run of non-starters by combining class.
void canonical_order(std::vector<char32_t>& cps) {
  std::size_t i = 0;
  while (i < cps.size()) {
    if (combining_class(cps[i]) == 0) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < cps.size() && combining_class(cps[j]) != 0) ++j;
    std::stable_sort(cps.begin() + static_cast<std::ptrdiff_t>(i), cps.begin() + static_cast<std::ptrdiff_t>(j),
                     [](char32_t a, char32_t b) { return combining_class(a) < combining_class(b); });
    i = j;
  }
}

// Canonical composition: each character joins the last starter unless blocked.
std::vector<char32_t> compose(const std::vector<char32_t>& cps) {
  std::vector<char32_t> out;
  out.reserve(cps.size());
  std::size_t starter = SIZE_MAX;
  int last_class = 0;
  for (char32_t cp : cps) {
    const int cls = combining_class(cp);
    if (starter != SIZE_MAX) {
      const bool adjacent = starter + 1 == out.size();
      if (adjacent || (last_class != 0 && last_class < cls)) {
        if (const char32_t composite = compose_pair(out[starter], cp)) {
          out[starter] = composite;
          continue;
        }
      }
    }
    if (cls == 0) starter = out.size();
    out.push_back(cp);
    last_class = cls;
  }
  return out;
}

void normalize_valid_run(std::string_view run, std::string& out) {
  std::vector<char32_t> cps;
  std::size_t pos = 0;
  while (pos < run.size()) {
    const Utf8Char ch = decode_utf8_at(run, pos);
    decompose(ch.code_point, cps);
    pos += ch.length;
  }
  canonical_order(cps);
  for (char32_t cp : compose(cps)) append_utf8(out, cp);
}

bool is_nfc_quick(std::string_view text) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    if (static_cast<unsigned char>(text[pos]) < 0x80) {
      ++pos;
      continue;
    }
    const Utf8Char ch = decode_utf8_at(text, pos);
    if (ch.valid && may_change(ch.code_point)) return false;
    pos += ch.length;
  }
  return true;
}

}  // namespace

std::string to_nfc(std::string_view text) {
  if (is_nfc_quick(text)) return std::string(text);
  std::string out;
  out.reserve(text.size());
  std::size_t run_begin = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const Utf8Char ch = decode_utf8_at(text, pos);
    if (!ch.valid) {
      normalize_valid_run(text.substr(run_begin, pos - run_begin), out);
      out.append(text.substr(pos, ch.length));
      run_begin = pos + ch.length;
    }
    pos += ch.length;
  }
  normalize_valid_run(text.substr(run_begin), out);
  return out;
}

}  // namespace helix
