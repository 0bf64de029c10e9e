// A port of CPython's `random` module generator (MT19937 with init_by_array
// seeding) for the few places where helix must reproduce a layout the paper's
// Python code generated with a seeded shuffle (the Petals placement, spec §5.1).
// Only the operations those places use are provided; the results are bit-identical
// to Python 3's `random.seed(n)`, `getrandbits`, `randrange`, `random`, `shuffle`.
// Everything else in helix uses std::mt19937_64 through helix::Rng.
#pragma once

#include <array>
#include <cstdint>
#include <utility>
#include <vector>

namespace helix {

class PythonRandom {
 public:
  // random.seed(seed) for a non-negative integer seed.
  explicit PythonRandom(std::uint64_t seed);

  std::uint32_t next_u32();                // genrand_uint32
  std::uint32_t getrandbits(int k);        // 1 <= k <= 32
  std::uint64_t randbelow(std::uint64_t n);  // uniform in [0, n), n >= 1, n < 2^32
  double random();                         // uniform in [0, 1), 53 bits

  // random.shuffle(items): Fisher–Yates from the end.
  template <typename T>
  void shuffle(std::vector<T>& items) {
    for (std::size_t i = items.size(); i-- > 1;) {
      auto j = static_cast<std::size_t>(randbelow(i + 1));
      std::swap(items[i], items[j]);
    }
  }

 private:
  void init_genrand(std::uint32_t s);
  void init_by_array(const std::vector<std::uint32_t>& key);
  void twist();

  static constexpr int kN = 624;
  std::array<std::uint32_t, kN> mt_{};
  int index_ = kN + 1;
};

}  // namespace helix
