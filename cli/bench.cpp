// `tailor bench`: benchmarks that are not tests. `tailor bench kernels` compares the fused kernels with
// their LibTorch references on CPU (time and peak memory per op).
#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>

#include "cli/verbs.h"
#include "core/error.h"
#include "kernels/bench_kernels.h"

namespace tailor::cli {
namespace {

void add_kernels(CLI::App& bench) {
  auto options = std::make_shared<kernels::KernelBenchOptions>();
  auto child = std::make_shared<std::string>();
  auto* cmd = bench.add_subcommand("kernels", "Time and peak memory of each fused kernel vs its reference");
  cmd->add_option("--op", options->ops, "Only these ops (rms_norm, rope, swiglu, geglu, causal_attention, lora_linear, qlora_linear, nf4_dequantize, gguf_*, linear_cross_entropy)");
  cmd->add_option("--ce-tokens", options->ce_tokens, "linear_cross_entropy: tokens")->capture_default_str();
  cmd->add_option("--ce-vocab", options->ce_vocab, "linear_cross_entropy: vocabulary size")->capture_default_str();
  cmd->add_option("--ce-hidden", options->ce_hidden, "linear_cross_entropy: hidden size")->capture_default_str();
  cmd->add_option("--repeats", options->repeats, "Timed runs per op (median reported)")->capture_default_str();
  cmd->add_option("--device", options->device, "cpu or cuda")->capture_default_str();
  cmd->add_option("--dtype", options->dtype, "float32 or bfloat16")->check(CLI::IsMember({"float32", "bfloat16"}))->capture_default_str();
  cmd->add_option("--child", *child, "Internal: run one op:mode in this process")->group("");
  cmd->callback([options, child] {
    if (!child->empty()) {
      auto colon = child->find(':');
      if (colon == std::string::npos) throw InputError("--child: expected op:mode, got '" + *child + "'");
      kernels::run_kernel_bench_child(*options, child->substr(0, colon), child->substr(colon + 1), std::cout);
      return;
    }
    options->executable = "/proc/self/exe";
    if (kernels::run_kernel_bench(*options, std::cout) != 0) throw std::runtime_error("a benchmark child failed");
  });
}

const RegisterVerb bench_verb(130, [](CLI::App& app) {
  auto* bench = app.add_subcommand("bench", "Benchmarks (not tests): tailor against its references and peers");
  bench->require_subcommand(1);
  add_kernels(*bench);
});

}  // namespace
}  // namespace tailor::cli
