#include "helix/engine/sampler.h"

#include <algorithm>
#include <cmath>

#include "helix/core/error.h"

namespace helix {

void validate(const SamplingParams& p) {
  if (!(p.temperature >= 0) || !std::isfinite(p.temperature)) {
    fail("temperature must be a finite number >= 0, got {}", p.temperature);
  }
  if (!(p.top_p > 0 && p.top_p <= 1)) fail("top_p must be in (0, 1], got {}", p.top_p);
  if (p.top_k < 0) fail("top_k must be >= 0, got {}", p.top_k);
  if (p.max_tokens < 0) fail("max_tokens must be >= 0, got {}", p.max_tokens);
}

Sampler::Sampler(const SamplingParams& params) : params_(params), state_(params.seed) {
  validate(params_);
}

// splitmix64: a fixed, documented generator, so a seed means the same on every
// platform (std:: distributions are implementation-defined).
double Sampler::uniform() {
  std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) * 0x1.0p-53;
}

bool Sampler::is_stop(int token) const {
  return std::find(params_.stop_tokens.begin(), params_.stop_tokens.end(), token) != params_.stop_tokens.end();
}

int Sampler::sample(std::span<const float> logits, int allowed) {
  int n = static_cast<int>(logits.size());
  if (allowed > 0) n = std::min(n, allowed);
  if (n <= 0) fail("sampler: empty logits row");
  if (params_.temperature == 0) {
    return static_cast<int>(std::max_element(logits.begin(), logits.begin() + n) - logits.begin());
  }
  candidates_.clear();
  for (int i = 0; i < n; ++i) candidates_.emplace_back(logits[static_cast<std::size_t>(i)], i);
  // Highest logit first; equal logits by id, so the order is total and repeatable.
  auto higher = [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); };
  std::size_t keep = candidates_.size();
  if (params_.top_k > 0 && static_cast<std::size_t>(params_.top_k) < keep) keep = static_cast<std::size_t>(params_.top_k);
  std::partial_sort(candidates_.begin(), candidates_.begin() + static_cast<std::ptrdiff_t>(keep), candidates_.end(), higher);
  candidates_.resize(keep);
  double top = candidates_.front().first, total = 0;
  probs_.resize(keep);
  for (std::size_t i = 0; i < keep; ++i) {
    probs_[i] = std::exp((candidates_[i].first - top) / params_.temperature);
    total += probs_[i];
  }
  if (params_.top_p < 1) {
    double mass = 0;
    std::size_t cut = keep;
    for (std::size_t i = 0; i < keep; ++i) {
      mass += probs_[i] / total;
      if (mass >= params_.top_p) {
        cut = i + 1;
        break;
      }
    }
    keep = cut;
    total = 0;
    for (std::size_t i = 0; i < keep; ++i) total += probs_[i];
  }
  double r = uniform() * total;
  for (std::size_t i = 0; i < keep; ++i) {
    r -= probs_[i];
    if (r < 0) return candidates_[i].second;
  }
  return candidates_[keep - 1].second;
}

}  // namespace helix
