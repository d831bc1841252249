// Which implementation the fused ops run: `reference` (plain LibTorch ops, autograd by LibTorch) or
// `fused` (hand-written CPU/CUDA kernels wrapped in autograd functions). Recipes spell it
// `kernels: fused | reference`.
#pragma once

#include <string>
#include <string_view>

namespace tailor::kernels {

enum class KernelMode { reference, fused };

// Throws tailor::InputError naming the accepted spellings.
KernelMode parse_kernel_mode(std::string_view text);
std::string to_string(KernelMode mode);

}  // namespace tailor::kernels
