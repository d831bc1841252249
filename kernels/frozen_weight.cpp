#include "kernels/frozen_weight.h"

#include <ATen/ATen.h>

#include <map>
#include <tuple>

namespace tailor::kernels {

FrozenWeight FrozenWeight::from_dense(const at::Tensor& weight) {
  TORCH_CHECK(weight.dim() == 2, "FrozenWeight: expected a 2-D [out, in] weight, got ", weight.sizes());
  FrozenWeight w;
  w.out_features = weight.size(0);
  w.in_features = weight.size(1);
  w.dense = weight.detach();
  return w;
}

FrozenWeight FrozenWeight::from_dequantizer(int64_t out_features, int64_t in_features,
                                            std::function<void(at::Tensor& into)> dequantize_into) {
  FrozenWeight w;
  w.out_features = out_features;
  w.in_features = in_features;
  w.dequantize_into = std::move(dequantize_into);
  return w;
}

at::Tensor FrozenWeight::materialize(at::ScalarType dtype, at::Device device, bool reuse_scratch) const {
  if (dense.defined()) return dense.to(device, dtype);
  TORCH_CHECK(bool(dequantize_into), "FrozenWeight: neither a dense weight nor a dequantizer");
  at::Tensor out;
  if (reuse_scratch) {
    // One growing buffer per (device, dtype) and thread: QLoRA keeps a single bf16 weight alive at a time.
    thread_local std::map<std::tuple<int, int, int>, at::Tensor> scratch;
    auto& buffer = scratch[{int(device.type()), int(device.index()), int(dtype)}];
    const int64_t n = out_features * in_features;
    if (!buffer.defined() || buffer.numel() < n) buffer = at::empty({n}, at::device(device).dtype(dtype));
    out = buffer.narrow(0, 0, n).view({out_features, in_features});
  } else {
    out = at::empty({out_features, in_features}, at::device(device).dtype(dtype));
  }
  dequantize_into(out);
  return out;
}

}  // namespace tailor::kernels
