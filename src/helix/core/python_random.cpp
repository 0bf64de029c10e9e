#include "helix/core/python_random.h"

#include <algorithm>
#include <bit>

#include "helix/core/error.h"

namespace helix {
namespace {
constexpr int kM = 397;
constexpr std::uint32_t kMatrixA = 0x9908b0dfU;
constexpr std::uint32_t kUpperMask = 0x80000000U;
constexpr std::uint32_t kLowerMask = 0x7fffffffU;
}  // namespace

PythonRandom::PythonRandom(std::uint64_t seed) {
  // CPython splits the absolute value of an int seed into 32-bit words, least
  // significant first; seed 0 gives the one-word key [0].
  std::vector<std::uint32_t> key;
  do {
    key.push_back(static_cast<std::uint32_t>(seed & 0xffffffffU));
    seed >>= 32;
  } while (seed != 0);
  init_by_array(key);
}

void PythonRandom::init_genrand(std::uint32_t s) {
  mt_[0] = s;
  for (int i = 1; i < kN; ++i) {
    mt_[i] = 1812433253U * (mt_[i - 1] ^ (mt_[i - 1] >> 30)) + static_cast<std::uint32_t>(i);
  }
  index_ = kN;
}

void PythonRandom::init_by_array(const std::vector<std::uint32_t>& key) {
  init_genrand(19650218U);
  int i = 1;
  std::size_t j = 0;
  for (int k = std::max<int>(kN, static_cast<int>(key.size())); k > 0; --k) {
    mt_[i] = (mt_[i] ^ ((mt_[i - 1] ^ (mt_[i - 1] >> 30)) * 1664525U)) + key[j] +
             static_cast<std::uint32_t>(j);
    ++i;
    ++j;
    if (i >= kN) {
      mt_[0] = mt_[kN - 1];
      i = 1;
    }
    if (j >= key.size()) j = 0;
  }
  for (int k = kN - 1; k > 0; --k) {
    mt_[i] = (mt_[i] ^ ((mt_[i - 1] ^ (mt_[i - 1] >> 30)) * 1566083941U)) -
             static_cast<std::uint32_t>(i);
    ++i;
    if (i >= kN) {
      mt_[0] = mt_[kN - 1];
      i = 1;
    }
  }
  mt_[0] = 0x80000000U;
  index_ = kN;
}

void PythonRandom::twist() {
  for (int k = 0; k < kN; ++k) {
    std::uint32_t y = (mt_[k] & kUpperMask) | (mt_[(k + 1) % kN] & kLowerMask);
    mt_[k] = mt_[(k + kM) % kN] ^ (y >> 1) ^ ((y & 1U) != 0 ? kMatrixA : 0U);
  }
  index_ = 0;
}

std::uint32_t PythonRandom::next_u32() {
  if (index_ >= kN) twist();
  std::uint32_t y = mt_[index_++];
  y ^= (y >> 11);
  y ^= (y << 7) & 0x9d2c5680U;
  y ^= (y << 15) & 0xefc60000U;
  y ^= (y >> 18);
  return y;
}

std::uint32_t PythonRandom::getrandbits(int k) {
  if (k < 1 || k > 32) fail("getrandbits({}) is outside 1..32", k);
  return next_u32() >> (32 - k);
}

std::uint64_t PythonRandom::randbelow(std::uint64_t n) {
  if (n == 0 || n > 0xffffffffULL) fail("randbelow({}) is outside 1..2^32-1", n);
  int k = static_cast<int>(std::bit_width(n));
  std::uint64_t r = getrandbits(k);
  while (r >= n) r = getrandbits(k);
  return r;
}

double PythonRandom::random() {
  std::uint32_t a = next_u32() >> 5;
  std::uint32_t b = next_u32() >> 6;
  return (a * 67108864.0 + b) * (1.0 / 9007199254740992.0);
}

}  // namespace helix
