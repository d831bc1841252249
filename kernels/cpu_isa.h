// The fused CPU loops (*_cpu.cpp) are compiled twice: baseline x86-64 (namespace base) and AVX2 + FMA
// (namespace avx2, with ATen's vec256 and its Sleef exp/tanh), like ATen's own kernels. The unqualified
// <op>_cpu functions in the launch headers pick the variant the processor supports at run time.
#pragma once

#ifndef TAILOR_CPU_ISA
#define TAILOR_CPU_ISA base
#endif

namespace tailor::kernels {

// True when the processor runs AVX2 and FMA and the AVX2 variants were compiled (x86-64 builds).
bool cpu_has_avx2();

}  // namespace tailor::kernels
