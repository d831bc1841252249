// Types shared by every op's plain launcher interface (<op>_launch.h): no LibTorch, no CUDA headers, so
// nvcc compiles the .cu files quickly and the .cpp wrappers need no CUDA includes.
#pragma once

namespace tailor::kernels {

// Element type of the activations a kernel reads and writes. Accumulation is float32 (float64 for f64,
// which only the CPU loops take: it lets gradient checks run the shipped backward in double precision).
enum class KernelDtype : int { f32 = 0, bf16 = 1, f64 = 2 };

}  // namespace tailor::kernels
