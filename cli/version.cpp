// `tailor version`: what this binary is built on and what the machine offers.
#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <ATen/cpu/Utils.h>
#include <ATen/Version.h>
#include <CLI/CLI.hpp>

#include <iostream>

#include "cli/verbs.h"
#include "core/build_info.h"
#include "kernels/device.h"

namespace tailor::cli {
namespace {

bool cpu_has(const std::unordered_map<std::string, c10::IValue>& caps, const std::string& key) {
  auto it = caps.find(key);
  return it != caps.end() && it->second.isBool() && it->second.toBool();
}

void print_version() {
  using namespace tailor;
  std::cout << "tailor " << build_info::version << " (" << build_info::build_type << ")\n";
  std::cout << "LibTorch " << build_info::torch_version << "\n";
  int gpus = kernels::cuda_device_count();
  std::cout << "CUDA kernels: " << (build_info::cuda_kernels ? "compiled (sm_80, sm_90)" : "not compiled (nvcc not found)")
            << "; CUDA devices: " << gpus << (gpus ? "" : " (none available)") << "\n";
  auto caps = at::cpu::get_cpu_capabilities();
  auto yes = [&](const char* key) { return cpu_has(caps, key) ? "yes" : "no"; };
  std::cout << "CPU: AVX2 " << yes("avx2") << ", AVX-512 " << yes("avx512_f") << ", AVX-512 VNNI " << yes("avx512_vnni")
            << ", AVX-512 BF16 " << yes("avx512_bf16") << ", AMX-BF16 " << yes("amx_bf16") << ", AMX-INT8 "
            << yes("amx_int8") << "\n";
  if (auto name = caps.find("cpu_name"); name != caps.end() && name->second.isString())
    std::cout << "CPU model: " << name->second.toStringRef() << ", " << at::get_num_threads() << " threads\n";
  std::cout << "ATen CPU kernels: " << at::get_cpu_capability() << "\n";
}

const RegisterVerb version_verb(200, [](CLI::App& app) {
  app.add_subcommand("version", "Print tailor's version, LibTorch's, CUDA and CPU features")->callback(print_version);
});

}  // namespace
}  // namespace tailor::cli
