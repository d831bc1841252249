// Shared by GPU tests: skip, with the reason, where no CUDA device can run them.
#pragma once

#include <gtest/gtest.h>

#include "core/build_info.h"
#include "kernels/device.h"

#define TAILOR_REQUIRE_CUDA()                                                                    \
  do {                                                                                           \
    if (!::tailor::build_info::cuda_kernels) GTEST_SKIP() << "built without CUDA kernels (no nvcc)"; \
    if (::tailor::kernels::cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device";           \
  } while (0)
