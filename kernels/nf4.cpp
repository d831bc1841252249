#include "kernels/nf4.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

#include "core/build_info.h"
#include "kernels/dispatch.h"
#include "kernels/nf4_launch.h"

#ifdef TAILOR_WITH_CUDA
#include <c10/cuda/CUDAGuard.h>
#endif

namespace tailor::kernels {
namespace {

constexpr float kNf4[16] = {-1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
                            -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
                            0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
                            0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f};

// Index of the nearest code value: the number of midpoints strictly below x (a tie goes to the lower
// index, as torch.bucketize does in bitsandbytes' reference kernel).
at::Tensor nearest_code(const at::Tensor& x, const at::Tensor& sorted_code) {
  auto midpoints = (sorted_code.narrow(0, 0, sorted_code.size(0) - 1) + sorted_code.narrow(0, 1, sorted_code.size(0) - 1)) / 2;
  return at::bucketize(x, midpoints.to(x.device()), /*out_int32=*/false, /*right=*/false);
}

// Blockwise absmax scaling exactly as bitsandbytes' default kernel: full blocks multiply by the reciprocal,
// the partial tail block divides.
std::pair<at::Tensor, at::Tensor> scale_blocks(const at::Tensor& flat, int64_t blocksize) {
  const int64_t n = flat.numel(), rem = n % blocksize, full = n - rem;
  auto body = flat.narrow(0, 0, full).view({full / blocksize, blocksize});
  auto absmax = body.abs().amax(-1);
  auto scaled = at::clamp(body * (1.0 / absmax.clamp_min(1e-38).unsqueeze(1)), -1, 1).reshape({-1});
  if (rem) {
    auto tail = flat.narrow(0, full, rem);
    auto tail_max = tail.abs().max().clamp_min(1e-38);
    absmax = at::cat({absmax, tail_max.unsqueeze(0)});
    scaled = at::cat({scaled, at::clamp(tail / tail_max, -1, 1)});
  }
  return {absmax, scaled};
}

}  // namespace

int64_t Nf4Weight::numel() const {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

at::Tensor nf4_code() { return at::tensor(at::ArrayRef<float>(kNf4, 16)); }

at::Tensor dynamic_code() {
  // create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8), in its float32 arithmetic.
  std::vector<at::Tensor> parts;
  for (int i = 0; i < 7; ++i) {
    auto bounds = at::linspace(0.1, 1.0, (1 << i) + 1, at::kFloat);
    auto means = (bounds.narrow(0, 0, 1 << i) + bounds.narrow(0, 1, 1 << i)) / 2.0;
    const double scale = std::pow(10.0, i - 6);
    parts.push_back(means * scale);
    parts.push_back(means * -scale);
  }
  parts.push_back(at::tensor({0.f, 1.f}));
  return std::get<0>(at::cat(parts).sort());
}

Nf4Weight nf4_quantize(const at::Tensor& weight, int64_t blocksize, bool double_quant) {
  TORCH_CHECK(blocksize >= 32 && blocksize <= 4096 && (blocksize & (blocksize - 1)) == 0,
              "nf4_quantize: blocksize must be a power of two in [32, 4096], got ", blocksize);
  TORCH_CHECK(weight.numel() > 0, "nf4_quantize: empty weight");
  Nf4Weight w;
  w.shape = weight.sizes().vec();
  w.blocksize = blocksize;
  auto flat = weight.detach().reshape({-1}).to(at::kFloat);
  auto [absmax, scaled] = scale_blocks(flat, blocksize);
  if (scaled.numel() % 2) scaled = at::cat({scaled, at::zeros({1}, scaled.options())});
  auto q = nearest_code(scaled, nf4_code()).to(at::kByte);
  w.packed = at::bitwise_or(at::bitwise_left_shift(q.slice(0, 0, q.numel(), 2), 4), q.slice(0, 1, q.numel(), 2))
                 .unsqueeze(1)
                 .contiguous();
  if (!double_quant) {
    w.absmax = absmax.contiguous();
    return w;
  }
  auto offset = absmax.mean();
  w.nested_offset = offset.item<double>();
  auto centered = absmax - offset;
  auto [nested_absmax, nested_scaled] = scale_blocks(centered, w.nested_blocksize);
  w.absmax = nearest_code(nested_scaled, dynamic_code()).to(at::kByte).contiguous();
  w.nested_absmax = nested_absmax.contiguous();
  return w;
}

void nf4_dequantize_into(const Nf4Weight& w, at::Tensor& into) {
  const int64_t n = w.numel();
  TORCH_CHECK(into.is_contiguous() && into.numel() == n && into.device() == w.packed.device(),
              "nf4_dequantize_into: target must be contiguous with ", n, " elements on ", w.packed.device());
  const auto device = w.packed.device();
  auto nf4 = nf4_code().to(device), dyn = dynamic_code().to(device);
  auto packed = w.packed.contiguous(), absmax = w.absmax.contiguous();
  at::Tensor nested = w.double_quantized() ? w.nested_absmax.to(at::kFloat).contiguous() : at::Tensor();
  Nf4DequantizeParams p{packed.data_ptr<uint8_t>(),
                        w.double_quantized() ? nullptr : absmax.data_ptr<float>(),
                        w.double_quantized() ? absmax.data_ptr<uint8_t>() : nullptr,
                        nested.defined() ? nested.data_ptr<float>() : nullptr,
                        nf4.data_ptr<float>(),
                        dyn.data_ptr<float>(),
                        float(w.nested_offset),
                        n,
                        w.blocksize,
                        w.nested_blocksize,
                        into.data_ptr(),
                        kernel_dtype(into, "nf4_dequantize")};
  if (device.is_cuda()) {
#ifdef TAILOR_WITH_CUDA
    c10::cuda::CUDAGuard guard(device);
#endif
    check_launch(launch_nf4_dequantize(p, cuda_stream_for(into, "nf4_dequantize")), "nf4_dequantize");
  } else {
    nf4_dequantize_cpu(p);
  }
}

at::Tensor nf4_dequantize(const Nf4Weight& w, at::ScalarType dtype, KernelMode mode) {
  const auto device = w.packed.device();
  if (mode == KernelMode::fused) {
    auto out = at::empty({w.numel()}, at::device(device).dtype(dtype));
    nf4_dequantize_into(w, out);
    return out.view(w.shape);
  }
  const int64_t n = w.numel();
  auto bytes = w.packed.reshape({-1}).to(at::kLong);
  auto q = at::stack({at::bitwise_right_shift(bytes, 4), at::bitwise_and(bytes, 15)}, 1).reshape({-1}).narrow(0, 0, n);
  at::Tensor absmax = w.absmax;
  if (w.double_quantized()) {
    auto nested = w.nested_absmax.repeat_interleave(w.nested_blocksize).narrow(0, 0, w.absmax.numel());
    absmax = dynamic_code().to(device).index_select(0, w.absmax.to(at::kLong)) * nested + float(w.nested_offset);
  }
  auto scale = absmax.repeat_interleave(w.blocksize).narrow(0, 0, n);
  return (nf4_code().to(device).index_select(0, q) * scale).to(dtype).view(w.shape);
}

FrozenWeight nf4_frozen_weight(std::shared_ptr<const Nf4Weight> w) {
  TORCH_CHECK(w && w->shape.size() == 2, "nf4_frozen_weight: expected a 2-D NF4 weight");
  return FrozenWeight::from_dequantizer(w->shape[0], w->shape[1], [w](at::Tensor& into) {
    at::Tensor target = into.to(w->packed.device());
    if (target.scalar_type() == at::kFloat || target.scalar_type() == at::kBFloat16) {
      auto flat = target.view({-1});
      nf4_dequantize_into(*w, flat);
    } else {
      target.copy_(nf4_dequantize(*w, at::kFloat).view(target.sizes()));
    }
    if (!target.is_same(into)) into.copy_(target);
  });
}

}  // namespace tailor::kernels
