#include "kernels/kernel_mode.h"

#include "core/error.h"

namespace tailor::kernels {

KernelMode parse_kernel_mode(std::string_view text) {
  if (text == "fused") return KernelMode::fused;
  if (text == "reference") return KernelMode::reference;
  throw InputError("kernels: '" + std::string(text) + "', expected 'fused' or 'reference'");
}

std::string to_string(KernelMode mode) { return mode == KernelMode::fused ? "fused" : "reference"; }

}  // namespace tailor::kernels
