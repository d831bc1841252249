// Plain launcher interface of the gated activations (glu_cpu.cpp, glu.cu, glu.cpp).
#pragma once

#include <cstdint>

#include "kernels/launch_types.h"

namespace tailor::kernels {

// silu: SwiGLU (Llama, Qwen, Mistral). gelu_tanh: GeGLU with the tanh-approximated gelu (Gemma).
enum class GluActivation : int { silu = 0, gelu_tanh = 1 };

// out = act(gate) * up, element-wise over n elements.
struct GluParams {
  const void* gate;
  const void* up;
  void* out;
  int64_t n;
  GluActivation act;
  KernelDtype dtype;
};

// grad_gate = g * up * act'(gate), grad_up = g * act(gate).
struct GluBackwardParams {
  const void* grad_out;
  const void* gate;
  const void* up;
  void* grad_gate;
  void* grad_up;
  int64_t n;
  GluActivation act;
  KernelDtype dtype;
};

void glu_forward_cpu(const GluParams& p);
void glu_backward_cpu(const GluBackwardParams& p);
int launch_glu_forward(const GluParams& p, void* stream);
int launch_glu_backward(const GluBackwardParams& p, void* stream);

}  // namespace tailor::kernels
