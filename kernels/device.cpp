#include "kernels/device.h"

#include <ATen/Context.h>
#include <ATen/detail/CUDAHooksInterface.h>

namespace tailor::kernels {

int cuda_device_count() {
  const auto& hooks = at::detail::getCUDAHooks();
  return hooks.hasCUDA() ? hooks.getNumGPUs() : 0;
}

}  // namespace tailor::kernels
