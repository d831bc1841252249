// The decoder's element-wise ops for a recipe's `kernels: fused | reference`: the fused set routes
// RMSNorm, RoPE and the gated activation through kernels/ (each proven against its reference there);
// `reference` is the models/ implementation that mirrors transformers op for op.
#pragma once

#include "kernels/kernel_mode.h"
#include "models/decoder_ops.h"

namespace tailor::train {

const models::DecoderOps& decoder_ops(kernels::KernelMode mode);

}  // namespace tailor::train
