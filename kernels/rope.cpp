#include "kernels/rope.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/custom_function.h>

#include <cmath>

#include "core/build_info.h"
#include "kernels/dispatch.h"
#include "kernels/rope_launch.h"

#ifdef TAILOR_WITH_CUDA
#include <c10/cuda/CUDAGuard.h>
#endif

namespace tailor::kernels {
namespace {

double yarn_mscale(double scale, double mscale) { return scale <= 1 ? 1.0 : 0.1 * mscale * std::log(scale) + 1.0; }

double yarn_correction_dim(double rotations, int64_t dim, double base, int64_t max_positions) {
  return dim * std::log(double(max_positions) / (rotations * 2 * M_PI)) / (2 * std::log(base));
}

// Where a rotation reads its cos/sin rows: explicit positions, or (positions empty) row
// b * batch_stride + t of per-token tables.
struct TableRows {
  at::Tensor cos, sin, positions;
  int64_t batch_stride = 0;
};

// x4 is a logical [B, S, H, D] view; the result has x4's memory layout where x4 is dense.
at::Tensor rotate(const at::Tensor& x_in, const TableRows& rows, bool inverse) {
  auto x = x_in.stride(-1) == 1 ? x_in : x_in.contiguous();
  auto out = at::empty_like(x);
  RopeParams p{x.data_ptr(), out.data_ptr(), rows.cos.data_ptr<float>(), rows.sin.data_ptr<float>(),
               rows.positions.numel() ? rows.positions.data_ptr<int64_t>() : nullptr,
               x.size(0), x.size(1), x.size(2), x.size(3), rows.cos.size(1), rows.cos.size(0), rows.batch_stride,
               {x.stride(0), x.stride(1), x.stride(2)}, {out.stride(0), out.stride(1), out.stride(2)}, inverse,
               kernel_dtype(x, "apply_rope")};
  if (x.is_cuda()) {
#ifdef TAILOR_WITH_CUDA
    c10::cuda::CUDAGuard guard(x.device());
#endif
    check_launch(launch_rope(p, cuda_stream_for(x, "apply_rope")), "apply_rope");
  } else {
    rope_cpu(p);
  }
  return out;
}

// Differentiable in x only; saves nothing but the tables (and positions).
struct RopeFunction : torch::autograd::Function<RopeFunction> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, const at::Tensor& cos,
                            const at::Tensor& sin, const at::Tensor& positions, int64_t batch_stride) {
    ctx->save_for_backward({cos, sin, positions});
    ctx->saved_data["batch_stride"] = batch_stride;
    return rotate(x, {cos, sin, positions, batch_stride}, false);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto saved = ctx->get_saved_variables();
    TableRows rows{saved[0], saved[1], saved[2], ctx->saved_data["batch_stride"].toInt()};
    at::Tensor dx = grads[0].defined() ? rotate(grads[0], rows, true) : at::Tensor();
    return {dx, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

// x [..., H, D] with one position per leading index, viewed as [1, N, H, D].
at::Tensor rotate_with_positions(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin,
                                 const at::Tensor& positions) {
  auto x4 = x.reshape({1, -1, x.size(-2), x.size(-1)});
  return RopeFunction::apply(x4, cos, sin, positions, 0).reshape(x.sizes());
}

void check_inputs(const at::Tensor& x, const RopeTables& tables, const at::Tensor& positions, const char* name) {
  TORCH_CHECK(x.dim() >= 2 && x.numel() / (x.size(-1) * x.size(-2)) == positions.numel(), "apply_rope: ", name, " ",
              x.sizes(), " does not match position_ids ", positions.sizes());
  TORCH_CHECK(2 * tables.cos.size(1) <= x.size(-1), "apply_rope: rotary dim ", 2 * tables.cos.size(1),
              " exceeds head dim ", x.size(-1));
}

}  // namespace

std::pair<at::Tensor, double> rope_inverse_frequencies(double theta, int64_t dim, const RopeScaling& s) {
  TORCH_CHECK(dim > 0 && dim % 2 == 0, "rope: rotary dim must be even and positive, got ", dim);
  // Exactly transformers' float32 arithmetic: base ** (arange(0, dim, 2).float() / dim).
  auto exponents = at::arange(0, dim, 2, at::kLong).to(at::kFloat) / double(dim);
  auto pos_freqs = at::pow(at::scalar_tensor(theta, at::kFloat), exponents);
  auto inv_freq = 1.0 / pos_freqs;
  switch (s.kind) {
    case RopeScaling::Kind::none:
      return {inv_freq, 1.0};
    case RopeScaling::Kind::linear:
      return {inv_freq / s.factor, 1.0};
    case RopeScaling::Kind::llama3: {
      const double old_len = double(s.original_max_position_embeddings);
      const double low_wavelen = old_len / s.low_freq_factor, high_wavelen = old_len / s.high_freq_factor;
      auto wavelen = 2 * M_PI / inv_freq;
      auto scaled = at::where(wavelen > low_wavelen, inv_freq / s.factor, inv_freq);
      auto smooth = (old_len / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
      auto smoothed = (1 - smooth) * scaled / s.factor + smooth * scaled;
      auto medium = at::logical_not(wavelen < high_wavelen) & at::logical_not(wavelen > low_wavelen);
      return {at::where(medium, smoothed, scaled), 1.0};
    }
    case RopeScaling::Kind::yarn: {
      double attention = s.attention_factor ? *s.attention_factor
                         : (s.mscale != 0 && s.mscale_all_dim != 0)
                             ? yarn_mscale(s.factor, s.mscale) / yarn_mscale(s.factor, s.mscale_all_dim)
                             : yarn_mscale(s.factor, 1.0);
      double low = yarn_correction_dim(s.beta_fast, dim, theta, s.original_max_position_embeddings);
      double high = yarn_correction_dim(s.beta_slow, dim, theta, s.original_max_position_embeddings);
      if (s.truncate) {
        low = std::floor(low);
        high = std::ceil(high);
      }
      low = std::max(low, 0.0);
      high = std::min(high, double(dim - 1));
      if (low == high) high += 0.001;
      auto ramp = at::clamp((at::arange(dim / 2, at::kFloat) - low) / (high - low), 0, 1);
      auto extrapolation_factor = 1 - ramp;
      auto interpolation = 1.0 / (s.factor * pos_freqs);
      return {interpolation * (1 - extrapolation_factor) + inv_freq * extrapolation_factor, attention};
    }
  }
  TORCH_CHECK(false, "rope: unknown scaling kind");
}

RopeTables rope_tables(double theta, int64_t rotary_dim, int64_t max_positions, const RopeScaling& scaling,
                       at::Device device) {
  auto [inv_freq, attention] = rope_inverse_frequencies(theta, rotary_dim, scaling);
  auto freqs = at::outer(at::arange(max_positions, at::kLong).to(at::kFloat), inv_freq);
  return {(freqs.cos() * attention).to(device).contiguous(), (freqs.sin() * attention).to(device).contiguous()};
}

at::Tensor apply_rope_reference(const at::Tensor& x, const RopeTables& tables, const at::Tensor& position_ids) {
  const int64_t half = tables.cos.size(1), rotary = 2 * half;
  auto leading = x.sizes().slice(0, x.dim() - 2).vec();
  auto shape = leading;
  shape.push_back(1);
  shape.push_back(rotary);
  auto flat = position_ids.reshape({-1}).to(at::kLong);
  auto cos = at::cat({tables.cos, tables.cos}, -1).index_select(0, flat).reshape(shape).to(x.scalar_type());
  auto sin = at::cat({tables.sin, tables.sin}, -1).index_select(0, flat).reshape(shape).to(x.scalar_type());
  auto rot = x.narrow(-1, 0, rotary);
  auto rotate_half = at::cat({-rot.narrow(-1, half, half), rot.narrow(-1, 0, half)}, -1);
  auto out = rot * cos + rotate_half * sin;
  if (rotary == x.size(-1)) return out;
  return at::cat({out, x.narrow(-1, rotary, x.size(-1) - rotary)}, -1);
}

std::pair<at::Tensor, at::Tensor> apply_rope(const at::Tensor& q, const at::Tensor& k, const RopeTables& tables,
                                             const at::Tensor& position_ids, KernelMode mode) {
  check_inputs(q, tables, position_ids, "q");
  check_inputs(k, tables, position_ids, "k");
  if (!position_ids.is_cuda() && position_ids.numel() > 0) {
    TORCH_CHECK(position_ids.min().item<int64_t>() >= 0 && position_ids.max().item<int64_t>() < tables.cos.size(0),
                "apply_rope: position ids must lie in [0, ", tables.cos.size(0), ")");
  }
  if (mode == KernelMode::reference)
    return {apply_rope_reference(q, tables, position_ids), apply_rope_reference(k, tables, position_ids)};
  auto cos = tables.cos.to(at::kFloat).contiguous(), sin = tables.sin.to(at::kFloat).contiguous();
  auto positions = position_ids.reshape({-1}).to(at::kLong).contiguous();
  return {rotate_with_positions(q, cos, sin, positions), rotate_with_positions(k, cos, sin, positions)};
}

at::Tensor apply_rope_cos_sin(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin, KernelMode mode) {
  TORCH_CHECK(x.dim() == 4 && cos.dim() == 3 && cos.sizes() == sin.sizes(), "apply_rope_cos_sin: x ", x.sizes(),
              " must be [B, H, T, D] and cos/sin [B or 1, T, R], got ", cos.sizes(), " and ", sin.sizes());
  const int64_t rotary = cos.size(-1), half = rotary / 2;
  TORCH_CHECK(rotary % 2 == 0 && rotary <= x.size(-1) && cos.size(1) == x.size(2) &&
                  (cos.size(0) == x.size(0) || cos.size(0) == 1),
              "apply_rope_cos_sin: cos/sin ", cos.sizes(), " do not fit x ", x.sizes());
  if (mode == KernelMode::reference) {
    auto c = cos.unsqueeze(1), s = sin.unsqueeze(1);
    auto rot = x.narrow(-1, 0, rotary);
    auto rotated = rot * c + at::cat({-rot.narrow(-1, half, half), rot.narrow(-1, 0, half)}, -1) * s;
    return rotary == x.size(-1) ? rotated : at::cat({rotated, x.narrow(-1, rotary, x.size(-1) - rotary)}, -1);
  }
  // cat(freqs, freqs) repeats each half, so the first half is the whole per-token table.
  auto table = [&](const at::Tensor& t) {
    return t.narrow(-1, 0, half).to(at::kFloat).contiguous().view({-1, half});
  };
  const int64_t batch_stride = cos.size(0) == 1 ? 0 : cos.size(1);
  // [B, H, T, D] read as [B, T, H, D] through strides: no copy either way. No positions: an empty tensor
  // (autograd functions take no undefined tensor inputs).
  auto no_positions = at::empty({0}, cos.options().dtype(at::kLong));
  return RopeFunction::apply(x.transpose(1, 2), table(cos), table(sin), no_positions, batch_stride).transpose(1, 2);
}


}  // namespace tailor::kernels
