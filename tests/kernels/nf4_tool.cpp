// Test helper for test_nf4_bitsandbytes.py: quantizes a raw float32 weight with tailor's NF4 and writes
// the pieces bitsandbytes stores, as raw little-endian files, for comparison with bitsandbytes itself.
// Usage: tailor_kernels_nf4_tool <weight.f32> <rows> <cols> <blocksize> <out_dir>
#include <ATen/ATen.h>

#include <fstream>
#include <iostream>
#include <string>

#include "kernels/nf4.h"

namespace {

void write(const std::string& path, const at::Tensor& t) {
  auto c = t.contiguous().cpu();
  std::ofstream(path, std::ios::binary).write(static_cast<const char*>(c.data_ptr()), c.nbytes());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6) {
    std::cerr << "usage: " << argv[0] << " <weight.f32> <rows> <cols> <blocksize> <out_dir>\n";
    return 2;
  }
  const int64_t rows = std::stoll(argv[2]), cols = std::stoll(argv[3]), blocksize = std::stoll(argv[4]);
  const std::string out = argv[5];
  auto w = at::empty({rows, cols}, at::kFloat);
  std::ifstream(argv[1], std::ios::binary).read(static_cast<char*>(w.data_ptr()), w.nbytes());
  auto q = tailor::kernels::nf4_quantize(w, blocksize, true);
  write(out + "/packed.u8", q.packed);
  write(out + "/absmax.u8", q.absmax);
  write(out + "/nested_absmax.f32", q.nested_absmax);
  write(out + "/offset.f32", at::tensor({float(q.nested_offset)}));
  write(out + "/dynamic_code.f32", tailor::kernels::dynamic_code());
  write(out + "/nf4_code.f32", tailor::kernels::nf4_code());
  write(out + "/dequantized.f32", tailor::kernels::nf4_dequantize(q, at::kFloat));
  write(out + "/dequantized.bf16", tailor::kernels::nf4_dequantize(q, at::kBFloat16));
  return 0;
}
