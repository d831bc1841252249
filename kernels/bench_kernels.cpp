#include "kernels/bench_kernels.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iomanip>
#include <map>
#include <sstream>

#include "core/build_info.h"
#include "core/error.h"
#include "formats/gguf_blocks.h"
#include "formats/gguf_quantize.h"
#include "kernels/causal_attention.h"
#include "kernels/gguf_dequant.h"
#include "kernels/glu.h"
#include "kernels/linear_cross_entropy.h"
#include "kernels/lora_linear.h"
#include "kernels/nf4.h"
#include "kernels/rms_norm.h"
#include "kernels/rope.h"

#ifdef TAILOR_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#endif

extern char** environ;

namespace tailor::kernels {
namespace {

// One benchmark: builds its inputs once, then `step` runs forward + backward under a mode.
struct BenchCase {
  std::string shape;
  std::function<std::function<void(KernelMode)>(const KernelBenchOptions&)> setup;
};

at::Tensor leaf(at::Tensor t) { return t.requires_grad_(true); }

at::Device bench_device(const KernelBenchOptions& o) { return at::Device(o.device); }

at::Tensor rnd(const KernelBenchOptions& o, at::IntArrayRef shape) {
  const auto dtype = o.dtype == "bfloat16" ? at::kBFloat16 : at::kFloat;
  return at::randn(shape, at::device(bench_device(o)).dtype(dtype));
}

void synchronize(const KernelBenchOptions& o) {
#ifdef TAILOR_WITH_CUDA
  if (bench_device(o).is_cuda()) c10::cuda::device_synchronize();
#else
  (void)o;
#endif
}

void backward_of(const at::Tensor& out) {
  if (out.dim() == 0) out.backward();
  else out.backward(at::ones_like(out));
}

std::map<std::string, BenchCase> bench_cases(const KernelBenchOptions& o) {
  std::map<std::string, BenchCase> cases;
  cases["rms_norm"] = {"x [8192, 2048]", [](const KernelBenchOptions& o) {
                         auto x = leaf(rnd(o, {8192, 2048})), w = leaf(rnd(o, {2048}));
                         return [=](KernelMode m) { backward_of(rms_norm(x, w, 1e-6, false, m)); };
                       }};
  cases["causal_attention"] = {"q [4, 9, 512, 64], k, v [4, 3, 512, 64] (SmolLM2)", [](const KernelBenchOptions& o) {
                                 auto q = leaf(rnd(o, {4, 9, 512, 64})), k = leaf(rnd(o, {4, 3, 512, 64})),
                                      v = leaf(rnd(o, {4, 3, 512, 64}));
                                 return [=](KernelMode m) { backward_of(causal_attention(q, k, v, 0.125, m)); };
                               }};
  cases["swiglu"] = {"gate, up [8192, 5632]", [](const KernelBenchOptions& o) {
                       auto g = leaf(rnd(o, {8192, 5632})), u = leaf(rnd(o, {8192, 5632}));
                       return [=](KernelMode m) { backward_of(glu(g, u, GluActivation::silu, m)); };
                     }};
  cases["geglu"] = {"gate, up [8192, 5632]", [](const KernelBenchOptions& o) {
                      auto g = leaf(rnd(o, {8192, 5632})), u = leaf(rnd(o, {8192, 5632}));
                      return [=](KernelMode m) { backward_of(glu(g, u, GluActivation::gelu_tanh, m)); };
                    }};
  cases["rope"] = {"q [4, 16, 2048, 128] as the decoder passes it", [](const KernelBenchOptions& o) {
                     // The decoder's call: q a [B, H, T, D] view of the projection, cos/sin [B, T, D] in its dtype.
                     auto q = leaf(rnd(o, {4, 2048, 16 * 128}));
                     auto positions = at::arange(2048, at::kLong).repeat({4, 1}).to(bench_device(o));
                     auto [inv_freq, unused] = rope_inverse_frequencies(500000.0, 128, {});
                     auto angles = positions.unsqueeze(-1).to(at::kFloat) * inv_freq.to(bench_device(o));
                     auto emb = at::cat({angles, angles}, -1);
                     auto cos = emb.cos().to(q.scalar_type()), sin = emb.sin().to(q.scalar_type());
                     return [=](KernelMode m) {
                       backward_of(apply_rope_cos_sin(q.view({4, 2048, 16, 128}).transpose(1, 2), cos, sin, m));
                     };
                   }};
  cases["lora_linear"] = {"x [4096, 2048] -> 2048, r 16, dense base", [](const KernelBenchOptions& o) {
                            auto x = leaf(rnd(o, {4096, 2048}));
                            auto base = FrozenWeight::from_dense(rnd(o, {2048, 2048}) * 0.02);
                            auto a = leaf(rnd(o, {16, 2048}) * 0.01), b = leaf(rnd(o, {2048, 16}) * 0.01);
                            return [=](KernelMode m) { backward_of(lora_linear(x, base, {}, a, b, {2.0, 0.0, true}, m)); };
                          }};
  cases["qlora_linear"] = {"x [4096, 2048] -> 2048, r 16, NF4 base", [](const KernelBenchOptions& o) {
                             auto x = leaf(rnd(o, {4096, 2048}));
                             auto nf4 = std::make_shared<Nf4Weight>(nf4_quantize(rnd(o, {2048, 2048}) * 0.02));
                             auto base = nf4_frozen_weight(nf4);
                             auto a = leaf(rnd(o, {16, 2048}) * 0.01), b = leaf(rnd(o, {2048, 16}) * 0.01);
                             return [=](KernelMode m) { backward_of(lora_linear(x, base, {}, a, b, {2.0, 0.0, true}, m)); };
                           }};
  cases["nf4_dequantize"] = {"[8192, 8192] -> bf16 (forward only)", [](const KernelBenchOptions& o) {
                               auto nf4 = std::make_shared<Nf4Weight>(nf4_quantize(rnd(o, {8192, 8192})));
                               return [=](KernelMode m) { nf4_dequantize(*nf4, at::kBFloat16, m); };
                             }};
  // GGUF bases: formats' scalar dequantizer (rows in parallel, float32, then cast) vs the fused kernel.
  for (auto [name, type] : {std::pair<const char*, formats::GgufType>{"q4_0", formats::GgufType::Q4_0},
                            {"q8_0", formats::GgufType::Q8_0}, {"q4_k", formats::GgufType::Q4_K},
                            {"q6_k", formats::GgufType::Q6_K}})
    cases[std::string("gguf_") + name] = {
        "[4096, 4096] -> " + o.dtype + " (forward only)", [type](const KernelBenchOptions& o) {
          const int64_t rows = 4096, cols = 4096;
          auto weights = (at::randn({rows, cols}) * 0.02).contiguous();
          auto blocks = at::empty({rows, int64_t(formats::gguf_row_bytes(type, cols))}, at::kByte);
          formats::quantize_rows(type, weights.data_ptr<float>(), reinterpret_cast<std::byte*>(blocks.data_ptr<uint8_t>()),
                                 rows, cols);
          auto device_blocks = blocks.to(bench_device(o));
          auto out = rnd(o, {rows, cols});
          return [=](KernelMode m) mutable {
            // The reference runs on CPU only: on CUDA it is the CPU dequantization plus the upload.
            if (m == KernelMode::reference && out.is_cuda()) {
              auto host = at::empty({rows, cols}, out.options().device(at::kCPU));
              gguf_dequantize_into(uint32_t(type), blocks, cols, host, {}, m);
              out.copy_(host);
            } else {
              gguf_dequantize_into(uint32_t(type), m == KernelMode::reference ? blocks : device_blocks, cols, out, {}, m);
            }
          };
        }};
  cases["linear_cross_entropy"] = {
      std::to_string(o.ce_tokens) + " tokens x " + std::to_string(o.ce_vocab) + " vocab, hidden " +
          std::to_string(o.ce_hidden) + "",
      [](const KernelBenchOptions& o) {
        auto h = leaf(rnd(o, {o.ce_tokens, o.ce_hidden}));
        auto w = leaf(rnd(o, {o.ce_vocab, o.ce_hidden}) * 0.05);
        auto labels = at::randint(o.ce_vocab, {o.ce_tokens}, at::kLong).to(bench_device(o));
        return [=](KernelMode m) { backward_of(linear_cross_entropy(h, w, labels, m)); };
      }};
  return cases;
}

int64_t status_kib(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0) return std::stoll(line.substr(std::string(key).size()));
  return -1;
}

int64_t meminfo_available_kib() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  int64_t value;
  std::string unit;
  while (in >> key >> value >> unit)
    if (key == "MemAvailable:") return value;
  return -1;
}

struct ChildResult {
  bool ok = false;
  double ms = 0;
  int64_t baseline_kib = 0, peak_kib = 0;
  std::string error;
};

ChildResult run_child(const KernelBenchOptions& o, const std::string& op, const std::string& mode) {
  std::vector<std::string> args{o.executable, "bench", "kernels", "--child", op + ":" + mode,
                                "--ce-tokens", std::to_string(o.ce_tokens), "--ce-vocab", std::to_string(o.ce_vocab),
                                "--ce-hidden", std::to_string(o.ce_hidden), "--repeats", std::to_string(o.repeats),
                                "--device", o.device, "--dtype", o.dtype};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int pipe_fds[2];
  ChildResult r;
  if (pipe(pipe_fds) != 0) return r;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, pipe_fds[0]);
  pid_t pid;
  int err = posix_spawn(&pid, o.executable.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(pipe_fds[1]);
  std::string text;
  char buf[4096];
  ssize_t n;
  while (err == 0 && (n = read(pipe_fds[0], buf, sizeof buf)) > 0) text.append(buf, size_t(n));
  close(pipe_fds[0]);
  if (err != 0) {
    r.error = "spawn failed";
    return r;
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    r.error = WIFSIGNALED(status) ? "killed by signal " + std::to_string(WTERMSIG(status)) : "child failed";
    return r;
  }
  r.ok = std::sscanf(text.c_str(), "ms=%lf baseline_kib=%ld peak_kib=%ld", &r.ms, &r.baseline_kib, &r.peak_kib) == 3;
  if (!r.ok) r.error = "unreadable child output: " + text;
  return r;
}

std::string fixed(double v, int digits) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(digits) << v;
  return s.str();
}

}  // namespace

std::vector<std::string> kernel_bench_ops() {
  return {"rms_norm",  "rope",      "swiglu",    "geglu",     "causal_attention",    "lora_linear", "qlora_linear",
          "nf4_dequantize", "gguf_q4_0", "gguf_q8_0", "gguf_q4_k", "gguf_q6_k", "linear_cross_entropy"};
}

void run_kernel_bench_child(const KernelBenchOptions& options, const std::string& op, const std::string& mode_name,
                            std::ostream& out) {
  auto cases = bench_cases(options);
  auto it = cases.find(op);
  if (it == cases.end()) throw InputError("bench kernels: unknown op '" + op + "'");
  const KernelMode mode = parse_kernel_mode(mode_name);
  at::manual_seed(0);
  auto step = it->second.setup(options);
  const bool cuda = bench_device(options).is_cuda();
  int64_t baseline = 0;
  if (cuda) {
#ifdef TAILOR_WITH_CUDA
    synchronize(options);
    const auto index = bench_device(options).index() < 0 ? c10::cuda::current_device() : bench_device(options).index();
    c10::cuda::CUDACachingAllocator::resetPeakStats(index);
    baseline = c10::cuda::CUDACachingAllocator::getDeviceStats(index).allocated_bytes[0].current / 1024;
#endif
  } else {
    // Reset the resident high-water mark so building the inputs does not count ("5" > clear_refs, Linux >= 4.0).
    std::ofstream("/proc/self/clear_refs") << "5";
    baseline = status_kib("VmRSS:");
  }
  const int repeats = op == "linear_cross_entropy" && !cuda ? 1 : std::max(1, options.repeats);
  if (repeats > 1) step(mode);  // warm-up (one-time allocations, thread pool or CUDA context start)
  std::vector<double> times;
  for (int i = 0; i < repeats; ++i) {
    synchronize(options);
    auto start = std::chrono::steady_clock::now();
    step(mode);
    synchronize(options);
    times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  int64_t peak = status_kib("VmHWM:");
#ifdef TAILOR_WITH_CUDA
  if (cuda) {
    const auto index = bench_device(options).index() < 0 ? c10::cuda::current_device() : bench_device(options).index();
    peak = c10::cuda::CUDACachingAllocator::getDeviceStats(index).allocated_bytes[0].peak / 1024;
  }
#endif
  out << "ms=" << times[times.size() / 2] << " baseline_kib=" << baseline << " peak_kib=" << peak << "\n";
}

int run_kernel_bench(const KernelBenchOptions& options, std::ostream& out) {
  auto cases = bench_cases(options);
  auto ops = options.ops.empty() ? kernel_bench_ops() : options.ops;
  const bool cuda = at::Device(options.device).is_cuda();
  out << options.device << (cuda ? "" : ", " + std::to_string(at::get_num_threads()) + " threads") << ", "
      << options.dtype << "; forward + backward; time is the median of " << options.repeats
      << (cuda ? "" : " (1 for linear_cross_entropy)") << "; peak = extra "
      << (cuda ? "CUDA memory allocated" : "resident memory") << " over the inputs\n";
  out << std::left << std::setw(22) << "op" << std::setw(52) << "shape" << std::right << std::setw(10) << "ref ms"
      << std::setw(10) << "fused ms" << std::setw(9) << "speedup" << std::setw(12) << "ref MiB" << std::setw(12)
      << "fused MiB" << std::setw(10) << "mem ratio" << "\n";
  int failures = 0;
  for (const auto& op : ops) {
    auto it = cases.find(op);
    if (it == cases.end()) throw InputError("bench kernels: unknown op '" + op + "'");
    ChildResult ref, fused = run_child(options, op, "fused");
    if (op == "linear_cross_entropy" && !cuda) {
      // The reference holds about three float32 [tokens x vocab] tensors at once; do not push the machine into OOM.
      const int64_t need_kib = 3 * options.ce_tokens * options.ce_vocab * 4 / 1024 + (1 << 20);
      const int64_t avail = meminfo_available_kib();
      if (avail >= 0 && avail < need_kib) {
        ref.error = "skipped: needs ~" + std::to_string(need_kib >> 20) + " GiB, " + std::to_string(avail >> 20) +
                    " GiB available";
      } else {
        ref = run_child(options, op, "reference");
      }
    } else {
      ref = run_child(options, op, "reference");
    }
    auto mib = [](const ChildResult& r) { return double(r.peak_kib - r.baseline_kib) / 1024.0; };
    out << std::left << std::setw(22) << op << std::setw(52) << it->second.shape << std::right;
    out << std::setw(10) << (ref.ok ? fixed(ref.ms, 1) : "-") << std::setw(10) << (fused.ok ? fixed(fused.ms, 1) : "-")
        << std::setw(9) << (ref.ok && fused.ok ? fixed(ref.ms / fused.ms, 2) + "x" : "-") << std::setw(12)
        << (ref.ok ? fixed(mib(ref), 0) : "-") << std::setw(12) << (fused.ok ? fixed(mib(fused), 0) : "-")
        << std::setw(10) << (ref.ok && fused.ok ? fixed(mib(ref) / std::max(mib(fused), 1.0), 1) + "x" : "-") << "\n";
    for (const auto* r : {&ref, &fused})
      if (!r->ok) {
        out << "  " << (r == &ref ? "reference" : "fused") << ": " << r->error << "\n";
        if (r->error.rfind("skipped", 0) != 0) ++failures;
      }
  }
  return failures ? 1 : 0;
}

}  // namespace tailor::kernels
