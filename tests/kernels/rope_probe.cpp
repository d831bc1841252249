// Test helper for test_rope_transformers.py: prints tailor's RoPE inverse frequencies and attention
// factor for one scaling configuration, one value per line (attention factor first).
// Usage: tailor_kernels_rope_probe <none|linear|llama3|yarn> <theta> <dim> <factor> <low_freq_factor>
//        <high_freq_factor> <original_max_position_embeddings> <beta_fast> <beta_slow>
#include <ATen/ATen.h>

#include <cstdio>
#include <iostream>
#include <string>

#include "kernels/rope.h"

int main(int argc, char** argv) {
  if (argc != 10) {
    std::cerr << "usage: " << argv[0] << " kind theta dim factor low high original beta_fast beta_slow\n";
    return 2;
  }
  using tailor::kernels::RopeScaling;
  RopeScaling s;
  const std::string kind = argv[1];
  s.kind = kind == "linear" ? RopeScaling::Kind::linear
           : kind == "llama3" ? RopeScaling::Kind::llama3
           : kind == "yarn"   ? RopeScaling::Kind::yarn
                              : RopeScaling::Kind::none;
  s.factor = std::stod(argv[4]);
  s.low_freq_factor = std::stod(argv[5]);
  s.high_freq_factor = std::stod(argv[6]);
  s.original_max_position_embeddings = std::stoll(argv[7]);
  s.beta_fast = std::stod(argv[8]);
  s.beta_slow = std::stod(argv[9]);
  auto [inv_freq, attention] = tailor::kernels::rope_inverse_frequencies(std::stod(argv[2]), std::stoll(argv[3]), s);
  std::printf("%.17g\n", attention);
  for (int64_t i = 0; i < inv_freq.numel(); ++i) std::printf("%.9g\n", inv_freq[i].item<float>());
  return 0;
}
