// `tailor bench kernels`: per op, time and peak memory of fused vs reference (CPU, or CUDA with
// --device cuda). Each (op, mode) runs
// in a child process (the same binary re-invoked with --child) so its resident-memory high-water mark is
// its own; the peak reported is that mark minus the resident size once the inputs exist.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace tailor::kernels {

struct KernelBenchOptions {
  std::string executable;        // path of the binary to re-invoke ("/proc/self/exe")
  std::vector<std::string> ops;  // empty: all
  int64_t ce_tokens = 4 * 2048;  // the acceptance size: 4 x 2048 tokens x 151,936 vocabulary
  int64_t ce_vocab = 151936;
  int64_t ce_hidden = 256;
  int repeats = 5;
  std::string device = "cpu";     // or "cuda": time with synchronization, peak from the CUDA caching allocator
  std::string dtype = "float32";  // or "bfloat16"
};

// Runs every selected op in children and prints the table; returns 0, or 1 if a child failed.
int run_kernel_bench(const KernelBenchOptions& options, std::ostream& out);

// The child side: runs one op under one mode ("fused" or "reference") and prints one line
// "ms=<median> baseline_kib=<rss> peak_kib=<hwm>" to out.
void run_kernel_bench_child(const KernelBenchOptions& options, const std::string& op, const std::string& mode,
                            std::ostream& out);

// Names of the benchmarked ops, in table order.
std::vector<std::string> kernel_bench_ops();

}  // namespace tailor::kernels
