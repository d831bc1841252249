// Per-module LoRA hyper-parameters, named as in PEFT's LoraConfig.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>

namespace tailor::lora {

enum class LoraInit {
  kDefault,   // PEFT init_lora_weights=true: A Kaiming-uniform (a=sqrt(5)), B zeros
  kGaussian,  // PEFT "gaussian": A ~ N(0, 1/r), B zeros
  kPissa,     // PEFT "pissa": A, B from the top-r SVD of W, which keeps the residual
  kNone,      // PEFT false: leave A and B as created (the caller loads them)
};

struct LoraOptions {
  int64_t r = 8;
  double alpha = 8.0;
  double dropout = 0.0;
  bool use_rslora = false;  // scaling alpha/sqrt(r) instead of alpha/r
  bool use_dora = false;
  LoraInit init = LoraInit::kDefault;

  double scaling() const { return use_rslora ? alpha / std::sqrt(static_cast<double>(r)) : alpha / static_cast<double>(r); }
};

// PEFT's spelling of init_lora_weights: true, false, "gaussian", "pissa".
LoraInit parse_lora_init(const std::string& value);
std::string lora_init_name(LoraInit init);

}  // namespace tailor::lora
