#include "helix/engine/rope.h"

#include <cmath>
#include <numbers>

#include "helix/core/error.h"
#include "helix/kernels/element_arithmetic.h"

namespace helix {
namespace {

// Hugging Face's llama3 rule: long wavelengths are slowed by `factor`, short ones
// kept, and the band between low_freq and high_freq wavelengths interpolated.
double llama3_scaled(double inv_freq, const RopeScaling& s) {
  double wavelen = 2 * std::numbers::pi / inv_freq;
  double low_freq_wavelen = s.original_max_position / s.low_freq_factor;
  double high_freq_wavelen = s.original_max_position / s.high_freq_factor;
  if (wavelen > low_freq_wavelen) return inv_freq / s.factor;
  if (wavelen < high_freq_wavelen) return inv_freq;
  double smooth = (s.original_max_position / wavelen - s.low_freq_factor) /
                  (s.high_freq_factor - s.low_freq_factor);
  return (1 - smooth) * inv_freq / s.factor + smooth * inv_freq;
}

}  // namespace

Rope::Rope(const LlamaConfig& config, std::span<const float> freq_factors)
    : head_dim_(config.head_dim), pairing_(config.rope_pairing) {
  int pairs = head_dim_ / 2;
  if (!freq_factors.empty() && static_cast<int>(freq_factors.size()) != pairs) {
    fail("rope_freqs.weight has {} entries, expected head_dim/2 = {}", freq_factors.size(), pairs);
  }
  inv_freq_.resize(static_cast<std::size_t>(pairs));
  for (int i = 0; i < pairs; ++i) {
    double f = 1.0 / std::pow(config.rope_theta, 2.0 * i / head_dim_);
    if (!freq_factors.empty()) {
      float factor = freq_factors[static_cast<std::size_t>(i)];
      if (!(factor > 0) || !std::isfinite(factor)) fail("rope_freqs.weight[{}] = {} must be finite and positive", i, factor);
      f /= factor;
    } else if (config.rope_scaling.kind == RopeScaling::Kind::kLinear) {
      f /= config.rope_scaling.factor;
    } else if (config.rope_scaling.kind == RopeScaling::Kind::kLlama3) {
      f = llama3_scaled(f, config.rope_scaling);
    }
    inv_freq_[static_cast<std::size_t>(i)] = f;
  }
}

void Rope::angles(int position, float* cos_out, float* sin_out) const {
  for (std::size_t i = 0; i < inv_freq_.size(); ++i) {
    double a = position * inv_freq_[i];
    cos_out[i] = static_cast<float>(std::cos(a));
    sin_out[i] = static_cast<float>(std::sin(a));
  }
}

void Rope::rotate(float* x, int heads, const float* cos_v, const float* sin_v) const {
  int pairs = head_dim_ / 2;
  for (int h = 0; h < heads; ++h) {
    float* v = x + static_cast<std::ptrdiff_t>(h) * head_dim_;
    for (int i = 0; i < pairs; ++i) {
      const element::RopePair p = element::rope_pair(i, pairs, pairing_ == RopePairing::kHalfSplit);
      const element::Rotated r = element::rope_rotate(v[p.first], v[p.second], cos_v[i], sin_v[i]);
      v[p.first] = r.first;
      v[p.second] = r.second;
    }
  }
}

}  // namespace helix
