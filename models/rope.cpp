#include "models/rope.h"

#include <ATen/ATen.h>

#include <cmath>

namespace tailor::models {
namespace {

// base^(-2i/dim) exactly as transformers computes it (float32 exponent, float32 power).
at::Tensor default_inv_freq(double base, int64_t dim) {
  at::Tensor exponent = at::arange(0, dim, 2, at::kLong).to(at::kFloat) / double(dim);
  return 1.0 / at::pow(base, exponent);
}

at::Tensor llama3_inv_freq(const RopeParams& r, int64_t dim) {
  at::Tensor inv_freq = default_inv_freq(r.theta, dim);
  const double old_context = double(r.original_max_position_embeddings);
  const double low_wavelen = old_context / r.low_freq_factor;
  const double high_wavelen = old_context / r.high_freq_factor;
  at::Tensor wavelen = 2 * M_PI / inv_freq;
  at::Tensor scaled = at::where(wavelen > low_wavelen, inv_freq / r.factor, inv_freq);
  at::Tensor smooth = (old_context / wavelen - r.low_freq_factor) / (r.high_freq_factor - r.low_freq_factor);
  at::Tensor smoothed = (1 - smooth) * scaled / r.factor + smooth * scaled;
  at::Tensor is_medium = (wavelen >= high_wavelen).logical_and(wavelen <= low_wavelen);
  return at::where(is_medium, smoothed, scaled);
}

double yarn_mscale(double scale, double mscale) { return scale <= 1 ? 1.0 : 0.1 * mscale * std::log(scale) + 1.0; }

RopeFrequencies yarn(const RopeParams& r, int64_t dim) {
  const double base = r.theta, factor = r.factor;
  double attention = r.attention_factor.value_or(
      r.mscale && r.mscale_all_dim && *r.mscale && *r.mscale_all_dim
          ? yarn_mscale(factor, *r.mscale) / yarn_mscale(factor, *r.mscale_all_dim)
          : yarn_mscale(factor, 1.0));
  const double original = double(r.original_max_position_embeddings);
  auto correction_dim = [&](double rotations) {
    return (double(dim) * std::log(original / (rotations * 2 * M_PI))) / (2 * std::log(base));
  };
  double low = correction_dim(r.beta_fast), high = correction_dim(r.beta_slow);
  if (r.truncate) {
    low = std::floor(low);
    high = std::ceil(high);
  }
  low = std::max(low, 0.0);
  high = std::min(high, double(dim - 1));
  if (low == high) high += 0.001;  // transformers' guard against a zero-width ramp
  at::Tensor pos_freqs = at::pow(base, at::arange(0, dim, 2, at::kLong).to(at::kFloat) / double(dim));
  at::Tensor extrapolation = 1.0 / pos_freqs;
  at::Tensor interpolation = 1.0 / (factor * pos_freqs);
  at::Tensor ramp = at::clamp((at::arange(dim / 2, at::kFloat) - low) / (high - low), 0, 1);
  at::Tensor extrapolation_factor = 1 - ramp;
  return {interpolation * (1 - extrapolation_factor) + extrapolation * extrapolation_factor, attention};
}

RopeFrequencies longrope(const RopeParams& r, int64_t dim, int64_t max_position) {
  const double original = double(r.original_max_position_embeddings);
  double attention = r.attention_factor.value_or(
      r.factor <= 1.0 ? 1.0 : std::sqrt(1 + std::log(r.factor) / std::log(original)));
  const auto& ext = max_position > r.original_max_position_embeddings ? r.long_factor : r.short_factor;
  at::Tensor factors = at::tensor(std::vector<double>(ext.begin(), ext.end()), at::kDouble).to(at::kFloat);
  at::Tensor shape = at::arange(0, dim, 2, at::kLong).to(at::kFloat) / double(dim);
  return {1.0 / (factors * at::pow(r.theta, shape)), attention};
}

}  // namespace

RopeFrequencies rope_frequencies(const RopeParams& r, int64_t dim, int64_t max_position) {
  if (!r.frequency_divisors.empty())  // GGUF llama3: inv_freq / rope_freqs, as llama.cpp applies them
    return {default_inv_freq(r.theta, dim) /
                at::tensor(std::vector<float>(r.frequency_divisors.begin(), r.frequency_divisors.end()), at::kFloat),
            1.0};
  switch (r.type) {
    case RopeType::Default: return {default_inv_freq(r.theta, dim), 1.0};
    case RopeType::Linear: return {default_inv_freq(r.theta, dim) / r.factor, 1.0};
    case RopeType::Llama3: return {llama3_inv_freq(r, dim), 1.0};
    case RopeType::Yarn: return yarn(r, dim);
    case RopeType::LongRope: return longrope(r, dim, max_position);
  }
  return {default_inv_freq(r.theta, dim), 1.0};
}

std::pair<at::Tensor, at::Tensor> rope_cos_sin(const RopeFrequencies& freq, const at::Tensor& position_ids,
                                               at::ScalarType dtype) {
  at::Tensor inv = freq.inv_freq.to(position_ids.device());
  at::Tensor angles = position_ids.unsqueeze(-1).to(at::kFloat) * inv;  // [B, T, R/2]
  at::Tensor emb = at::cat({angles, angles}, -1);                        // [B, T, R]
  at::Tensor cos = emb.cos(), sin = emb.sin();
  if (freq.attention_scaling != 1.0) {
    cos = cos * freq.attention_scaling;
    sin = sin * freq.attention_scaling;
  }
  return {cos.to(dtype), sin.to(dtype)};
}

}  // namespace tailor::models
