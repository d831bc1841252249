// The random-number state a resumed run needs to continue as if never interrupted: LibTorch's CPU
// generator and every CUDA device's, as uint8 tensors named "rng.cpu", "rng.cuda.<i>".
#pragma once

#include <ATen/core/Tensor.h>

#include <map>
#include <string>

namespace tailor::train {

std::map<std::string, at::Tensor> capture_rng_state();
// Restores the generators present in `state` (other entries are ignored).
void restore_rng_state(const std::map<std::string, at::Tensor>& state);

}  // namespace tailor::train
