// Which compute devices this process can use.
#pragma once

namespace tailor::kernels {

// Number of CUDA devices LibTorch sees (0 without a GPU or without a CUDA build of LibTorch).
int cuda_device_count();

}  // namespace tailor::kernels
