// Run-time choice between the baseline and AVX2 builds of each fused CPU loop (see cpu_isa.h).
#include "kernels/causal_attention_launch.h"
#include "kernels/cpu_isa.h"
#include "kernels/cross_entropy_launch.h"
#include "kernels/gguf_dequant_launch.h"
#include "kernels/glu_launch.h"
#include "kernels/nf4_launch.h"
#include "kernels/rms_norm_launch.h"
#include "kernels/rope_launch.h"

#define TAILOR_CPU_KERNELS(X)                                \
  X(rms_norm_forward_cpu, RmsNormParams)                     \
  X(rms_norm_backward_cpu, RmsNormBackwardParams)            \
  X(glu_forward_cpu, GluParams)                              \
  X(glu_backward_cpu, GluBackwardParams)                     \
  X(cross_entropy_forward_cpu, CrossEntropyParams)           \
  X(cross_entropy_backward_cpu, CrossEntropyBackwardParams)  \
  X(rope_cpu, RopeParams)                                    \
  X(nf4_dequantize_cpu, Nf4DequantizeParams)                \
  X(gguf_dequantize_cpu, GgufDequantParams)                  \
  X(causal_softmax_forward_cpu, CausalSoftmaxParams)        \
  X(causal_softmax_backward_cpu, CausalSoftmaxBackwardParams)

namespace tailor::kernels {

#define TAILOR_DECLARE_VARIANTS(name, Params) \
  namespace base {                            \
  void name(const Params& p);                 \
  }                                           \
  namespace avx2 {                            \
  void name(const Params& p);                 \
  }
TAILOR_CPU_KERNELS(TAILOR_DECLARE_VARIANTS)

bool cpu_has_avx2() {
#ifdef TAILOR_HAVE_AVX2_KERNELS
  static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return has;
#else
  return false;
#endif
}

#ifdef TAILOR_HAVE_AVX2_KERNELS
#define TAILOR_DISPATCH(name, Params) \
  void name(const Params& p) { cpu_has_avx2() ? avx2::name(p) : base::name(p); }
#else
#define TAILOR_DISPATCH(name, Params) \
  void name(const Params& p) { base::name(p); }
#endif
TAILOR_CPU_KERNELS(TAILOR_DISPATCH)

}  // namespace tailor::kernels
