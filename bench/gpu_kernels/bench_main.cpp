// `tailor bench kernels` without the CLI's dependencies, for bench/gpu_check.sh's fallback build.
// Usage: tailor_kernels_bench [--device D] [--dtype T] [--ce-hidden N] [--repeats N] [--op NAME]...
//        (and --child op:mode, which the benchmark uses to re-invoke itself)
#include <iostream>
#include <string>

#include "kernels/bench_kernels.h"

int main(int argc, char** argv) {
  tailor::kernels::KernelBenchOptions options;
  std::string child;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--device") options.device = value;
    else if (flag == "--dtype") options.dtype = value;
    else if (flag == "--op") options.ops.push_back(value);
    else if (flag == "--repeats") options.repeats = std::stoi(value);
    else if (flag == "--ce-tokens") options.ce_tokens = std::stoll(value);
    else if (flag == "--ce-vocab") options.ce_vocab = std::stoll(value);
    else if (flag == "--ce-hidden") options.ce_hidden = std::stoll(value);
    else if (flag == "--child") child = value;
    else if (flag != "bench") {  // children are re-invoked as `<exe> bench kernels --child ...`
      std::cerr << "unknown flag " << flag << "\n";
      return 2;
    }
  }
  if (!child.empty()) {
    const auto colon = child.find(':');
    tailor::kernels::run_kernel_bench_child(options, child.substr(0, colon), child.substr(colon + 1), std::cout);
    return 0;
  }
  options.executable = "/proc/self/exe";
  return tailor::kernels::run_kernel_bench(options, std::cout);
}
