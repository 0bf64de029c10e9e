#include "unit/engine/reference_model.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "helix/weights/dtype.h"

namespace helix::test {
namespace {

// The nearest f16 to v (ties to even, 2^-24 steps below 2^-14, infinite past 65504),
// worked out in double, apart from the engine's conversions.
double nearest_f16(double v) {
  if (v == 0.0 || std::isinf(v)) return v;
  const double ulp = std::ldexp(1.0, std::max(std::ilogb(v), -14) - 10);
  const double r = std::nearbyint(v / ulp) * ulp;
  return std::fabs(r) > 65504.0 ? std::copysign(HUGE_VAL, v) : r;
}

std::vector<double> rms_norm(const std::vector<double>& x, const std::vector<double>& w, double eps) {
  double ss = 0;
  for (double v : x) ss += v * v;
  double inv = 1.0 / std::sqrt(ss / static_cast<double>(x.size()) + eps);
  std::vector<double> out(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) out[i] = x[i] * inv * w[i];
  return out;
}

// y = W x for W [rows x cols].
std::vector<double> matvec(const std::vector<double>& w, const std::vector<double>& x) {
  std::size_t cols = x.size(), rows = w.size() / cols;
  std::vector<double> y(rows, 0.0);
  for (std::size_t r = 0; r < rows; ++r) {
    double s = 0;
    for (std::size_t c = 0; c < cols; ++c) s += w[r * cols + c] * x[c];
    y[r] = s;
  }
  return y;
}

}  // namespace

ReferenceModel::ReferenceModel(const ModelFiles& model) : model_(model) {
  const LlamaConfig& c = model.config;
  int pairs = c.head_dim / 2;
  std::vector<double> factors;
  std::string freqs = model.rope_freqs_tensor();
  if (!freqs.empty() && model.store->contains(freqs)) factors = load(freqs);
  for (int i = 0; i < pairs; ++i) {
    double f = std::pow(c.rope_theta, -2.0 * i / c.head_dim);
    const RopeScaling& s = c.rope_scaling;
    if (!factors.empty()) {
      f /= factors[static_cast<std::size_t>(i)];
    } else if (s.kind == RopeScaling::Kind::kLinear) {
      f /= s.factor;
    } else if (s.kind == RopeScaling::Kind::kLlama3) {
      double wavelen = 2 * std::numbers::pi / f;
      double lo = s.original_max_position / s.low_freq_factor, hi = s.original_max_position / s.high_freq_factor;
      if (wavelen > lo) {
        f = f / s.factor;
      } else if (wavelen >= hi) {
        double smooth = (s.original_max_position / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
        f = (1 - smooth) * f / s.factor + smooth * f;
      }
    }
    inv_freq_.push_back(f);
  }
}

ReferenceModel::Matrix ReferenceModel::load(const std::string& name) const {
  const TensorRef& t = model_.store->at(name);
  std::vector<float> f(static_cast<std::size_t>(t.elements()));
  convert_to_f32(t.dtype, t.data, t.elements(), f.data());
  return Matrix(f.begin(), f.end());
}

std::vector<double> ReferenceModel::rotate(std::vector<double> x, int heads, int position) const {
  const LlamaConfig& c = model_.config;
  int d = c.head_dim, half = d / 2;
  for (int h = 0; h < heads; ++h) {
    for (int i = 0; i < half; ++i) {
      bool interleaved = c.rope_pairing == RopePairing::kInterleaved;
      std::size_t a = static_cast<std::size_t>(h * d + (interleaved ? 2 * i : i));
      std::size_t b = static_cast<std::size_t>(h * d + (interleaved ? 2 * i + 1 : i + half));
      double angle = position * inv_freq_[static_cast<std::size_t>(i)];
      double x0 = x[a], x1 = x[b];
      x[a] = x0 * std::cos(angle) - x1 * std::sin(angle);
      x[b] = x1 * std::cos(angle) + x0 * std::sin(angle);
    }
  }
  return x;
}

std::vector<std::vector<double>> ReferenceModel::logits(const std::vector<int>& tokens, bool kv_in_f16) const {
  const LlamaConfig& c = model_.config;
  const std::size_t H = static_cast<std::size_t>(c.hidden_size), T = tokens.size();
  const std::size_t hd = static_cast<std::size_t>(c.head_dim);
  Matrix embed = load(model_.embedding_tensor());
  std::vector<std::vector<double>> x(T);
  for (std::size_t t = 0; t < T; ++t) {
    auto row = embed.begin() + static_cast<std::ptrdiff_t>(static_cast<std::size_t>(tokens[t]) * H);
    x[t].assign(row, row + static_cast<std::ptrdiff_t>(H));
  }
  for (int l = 0; l < c.num_layers; ++l) {
    auto name = [&](LayerTensor t) { return model_.layer_tensor(l, t); };
    Matrix wq = load(name(LayerTensor::kQ)), wk = load(name(LayerTensor::kK)), wv = load(name(LayerTensor::kV));
    Matrix wo = load(name(LayerTensor::kO)), wg = load(name(LayerTensor::kGate)), wu = load(name(LayerTensor::kUp));
    Matrix wd = load(name(LayerTensor::kDown));
    Matrix n1 = load(name(LayerTensor::kAttnNorm)), n2 = load(name(LayerTensor::kFfnNorm));
    Matrix bq, bk, bv;
    if (c.attention_bias) {
      bq = load(name(LayerTensor::kQBias));
      bk = load(name(LayerTensor::kKBias));
      bv = load(name(LayerTensor::kVBias));
    }
    std::vector<std::vector<double>> q(T), k(T), v(T);
    for (std::size_t t = 0; t < T; ++t) {
      auto h = rms_norm(x[t], n1, c.rms_norm_eps);
      q[t] = matvec(wq, h);
      k[t] = matvec(wk, h);
      v[t] = matvec(wv, h);
      for (std::size_t i = 0; i < bq.size(); ++i) q[t][i] += bq[i];
      for (std::size_t i = 0; i < bk.size(); ++i) k[t][i] += bk[i], v[t][i] += bv[i];
      q[t] = rotate(q[t], c.num_heads, static_cast<int>(t));
      k[t] = rotate(k[t], c.num_kv_heads, static_cast<int>(t));
      if (kv_in_f16) {
        for (double& e : k[t]) e = nearest_f16(e);
        for (double& e : v[t]) e = nearest_f16(e);
      }
    }
    for (std::size_t t = 0; t < T; ++t) {
      std::vector<double> attn(static_cast<std::size_t>(c.q_dim()), 0.0);
      for (int h = 0; h < c.num_heads; ++h) {
        std::size_t g = static_cast<std::size_t>(h / (c.num_heads / c.num_kv_heads));
        std::size_t first = c.sliding_window > 0 && t + 1 > static_cast<std::size_t>(c.sliding_window)
                                ? t + 1 - static_cast<std::size_t>(c.sliding_window) : 0;
        std::vector<double> s;
        for (std::size_t j = first; j <= t; ++j) {
          double dotp = 0;
          for (std::size_t i = 0; i < hd; ++i) dotp += q[t][static_cast<std::size_t>(h) * hd + i] * k[j][g * hd + i];
          s.push_back(dotp / std::sqrt(static_cast<double>(hd)));
        }
        double m = *std::max_element(s.begin(), s.end()), z = 0;
        for (double& e : s) z += (e = std::exp(e - m));
        for (std::size_t j = first; j <= t; ++j) {
          for (std::size_t i = 0; i < hd; ++i) {
            attn[static_cast<std::size_t>(h) * hd + i] += s[j - first] / z * v[j][g * hd + i];
          }
        }
      }
      auto o = matvec(wo, attn);
      for (std::size_t i = 0; i < H; ++i) x[t][i] += o[i];
      auto h2 = rms_norm(x[t], n2, c.rms_norm_eps);
      auto g = matvec(wg, h2), u = matvec(wu, h2);
      for (std::size_t i = 0; i < g.size(); ++i) g[i] = g[i] / (1 + std::exp(-g[i])) * u[i];
      auto d = matvec(wd, g);
      for (std::size_t i = 0; i < H; ++i) x[t][i] += d[i];
    }
  }
  Matrix norm = load(model_.final_norm_tensor());
  Matrix head = load(c.tie_word_embeddings ? model_.embedding_tensor() : model_.lm_head_tensor());
  std::vector<std::vector<double>> out;
  for (std::size_t t = 0; t < T; ++t) out.push_back(matvec(head, rms_norm(x[t], norm, c.rms_norm_eps)));
  return out;
}

double relative_error(const std::vector<float>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return 1e9;
  double diff = 0, scale = 0;
  for (std::size_t i = 0; i < b.size(); ++i) {
    diff = std::max(diff, std::abs(static_cast<double>(a[i]) - b[i]));
    scale = std::max(scale, std::abs(b[i]));
  }
  return diff / scale;
}

}  // namespace helix::test
