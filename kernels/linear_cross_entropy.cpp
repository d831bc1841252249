#include "kernels/linear_cross_entropy.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/custom_function.h>

#include "core/build_info.h"
#include "kernels/cpu_matmul.h"
#include "kernels/cross_entropy_launch.h"
#include "kernels/dispatch.h"

#ifdef TAILOR_WITH_CUDA
#include <c10/cuda/CUDAGuard.h>
#endif

namespace tailor::kernels {
namespace {

constexpr int64_t kChunkLogits = int64_t(1) << 26;


int64_t chunk_size(int64_t requested, int64_t vocab, int64_t tokens) {
  int64_t chunk = requested > 0 ? requested : std::max<int64_t>(1, kChunkLogits / std::max<int64_t>(vocab, 1));
  return std::max<int64_t>(1, std::min(chunk, tokens));
}

void run_forward(const CrossEntropyParams& p, const at::Tensor& on) {
  if (on.is_cuda()) {
    check_launch(launch_cross_entropy_forward(p, cuda_stream_for(on, "linear_cross_entropy")), "linear_cross_entropy");
  } else {
    cross_entropy_forward_cpu(p);
  }
}

void run_backward(const CrossEntropyBackwardParams& p, const at::Tensor& on) {
  if (on.is_cuda()) {
    check_launch(launch_cross_entropy_backward(p, cuda_stream_for(on, "linear_cross_entropy")),
                 "linear_cross_entropy backward");
  } else {
    cross_entropy_backward_cpu(p);
  }
}

struct LinearCrossEntropyFunction : torch::autograd::Function<LinearCrossEntropyFunction> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& hidden_in,
                            const at::Tensor& weight_in, const at::Tensor& labels_in, int64_t ignore_index,
                            int64_t chunk_tokens, bool hidden_grad_now) {
#ifdef TAILOR_WITH_CUDA
    c10::OptionalDeviceGuard guard(hidden_in.device());
#endif
    const int64_t V = weight_in.size(0);
    auto hidden = hidden_in.contiguous();  // [N, C]
    auto weight = weight_in.contiguous();
    auto labels = labels_in.reshape({-1}).to(at::kLong).contiguous();
    const int64_t N = hidden.size(0);
    const auto dtype = kernel_dtype(hidden, "linear_cross_entropy");
    auto lse = at::empty({N}, hidden.options().dtype(accumulate_type(hidden)));
    auto row_loss = at::empty({N}, lse.options());
    const int64_t chunk = chunk_size(chunk_tokens, V, N);
    auto counted = (labels != ignore_index).sum().to(lse.scalar_type());
    at::Tensor grad_hidden = hidden_grad_now ? at::empty_like(hidden) : at::Tensor();
    at::Tensor per_token = hidden_grad_now ? (1 / counted).reshape({1}).contiguous() : at::Tensor();
    for (int64_t start = 0; start < N; start += chunk) {
      const int64_t rows = std::min(chunk, N - start);
      auto logits = linear_nt(hidden.narrow(0, start, rows), weight);  // [rows, V]
      CrossEntropyParams p{logits.data_ptr(), labels.data_ptr<int64_t>() + start,
                           static_cast<char*>(lse.data_ptr()) + start * lse.element_size(),
                           static_cast<char*>(row_loss.data_ptr()) + start * row_loss.element_size(),
                           rows, V, ignore_index, dtype};
      run_forward(p, hidden);
      if (hidden_grad_now) {
        CrossEntropyBackwardParams b{logits.data_ptr(), p.labels, p.lse, per_token.data_ptr(), rows, V, ignore_index, dtype};
        run_backward(b, hidden);
        grad_hidden.narrow(0, start, rows).copy_(linear_nt(logits, weight.t()));
      }
    }
    if (hidden_grad_now) {
      ctx->save_for_backward({grad_hidden});
      return row_loss.sum() / counted;
    }
    ctx->save_for_backward({hidden, weight, labels, lse, counted});
    ctx->saved_data["ignore_index"] = ignore_index;
    ctx->saved_data["chunk"] = chunk;
    return row_loss.sum() / counted;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto saved = ctx->get_saved_variables();
    if (saved.size() == 1)  // d loss / d hidden taken in forward, per unit of upstream gradient
      return {saved[0] * grads[0].to(saved[0].scalar_type()), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(),
              at::Tensor()};
    const auto& hidden = saved[0];
    const auto& weight = saved[1];
    const auto& labels = saved[2];
    const auto& lse = saved[3];
    const auto& counted = saved[4];
#ifdef TAILOR_WITH_CUDA
    c10::OptionalDeviceGuard guard(hidden.device());
#endif
    const int64_t ignore_index = ctx->saved_data["ignore_index"].toInt();
    const int64_t chunk = ctx->saved_data["chunk"].toInt();
    const int64_t N = hidden.size(0), V = weight.size(0);
    const bool want_hidden = ctx->needs_input_grad(0), want_weight = ctx->needs_input_grad(1);
    auto scale = (grads[0].to(lse.scalar_type()) / counted).reshape({1}).contiguous();
    at::Tensor grad_hidden = want_hidden ? at::empty_like(hidden) : at::Tensor();
    // Accumulate the weight gradient across chunks in float32 even for bfloat16 weights.
    at::Tensor grad_weight = want_weight ? at::zeros(weight.sizes(), weight.options().dtype(lse.scalar_type())) : at::Tensor();
    for (int64_t start = 0; start < N && (want_hidden || want_weight); start += chunk) {
      const int64_t rows = std::min(chunk, N - start);
      auto h = hidden.narrow(0, start, rows);
      auto grad_logits = linear_nt(h, weight);
      CrossEntropyBackwardParams p{grad_logits.data_ptr(), labels.data_ptr<int64_t>() + start,
                                   static_cast<const char*>(lse.data_ptr()) + start * lse.element_size(),
                                   scale.data_ptr(), rows, V, ignore_index, kernel_dtype(hidden, "linear_cross_entropy")};
      run_backward(p, hidden);
      if (want_hidden) grad_hidden.narrow(0, start, rows).copy_(linear_nt(grad_logits, weight.t()));
      if (want_weight) {
        if (grad_weight.scalar_type() == grad_logits.scalar_type()) {
          grad_weight.addmm_(grad_logits.t(), h);
        } else {
          grad_weight.add_(at::mm(grad_logits.t(), h));
        }
      }
    }
    return {want_hidden ? grad_hidden : at::Tensor(), want_weight ? grad_weight.to(weight.scalar_type()) : at::Tensor(),
            at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor linear_cross_entropy_reference(const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& labels,
                                          int64_t ignore_index) {
  auto logits = at::matmul(hidden, weight.t()).reshape({-1, weight.size(0)});
  return at::cross_entropy_loss(logits.to(accumulate_type(hidden)), labels.reshape({-1}).to(at::kLong), {},
                                at::Reduction::Mean, ignore_index);
}

at::Tensor linear_cross_entropy(const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& labels,
                                KernelMode mode, const LinearCrossEntropyOptions& options) {
  TORCH_CHECK(weight.dim() == 2 && hidden.size(-1) == weight.size(1), "linear_cross_entropy: hidden ", hidden.sizes(),
              " and weight ", weight.sizes(), " do not match");
  TORCH_CHECK(labels.numel() * hidden.size(-1) == hidden.numel(), "linear_cross_entropy: labels ", labels.sizes(),
              " do not match hidden ", hidden.sizes());
  TORCH_CHECK(hidden.scalar_type() == weight.scalar_type() && hidden.device() == weight.device(),
              "linear_cross_entropy: hidden and weight differ in dtype or device");
  auto valid = (labels == options.ignore_index) | ((labels >= 0) & (labels < weight.size(0)));
  TORCH_CHECK(valid.all().item<bool>(), "linear_cross_entropy: a label is outside [0, ", weight.size(0),
              ") and is not ignore_index ", options.ignore_index);
  if (mode == KernelMode::reference) return linear_cross_entropy_reference(hidden, weight, labels, options.ignore_index);
  // The loss is the last op of the graph: when only hidden needs a gradient (frozen lm_head), each chunk's
  // logits gradient is taken while the logits are at hand, so backward needs no second lm_head matmul.
  const bool hidden_grad_now = at::GradMode::is_enabled() && hidden.requires_grad() && !weight.requires_grad();
  return LinearCrossEntropyFunction::apply(hidden.reshape({-1, hidden.size(-1)}), weight, labels, options.ignore_index,
                                          options.chunk_tokens, hidden_grad_now);
}

}  // namespace tailor::kernels
