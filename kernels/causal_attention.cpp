#include "kernels/causal_attention.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/custom_function.h>

#include <limits>

#include "kernels/causal_attention_launch.h"
#include "kernels/cpu_matmul.h"
#include "kernels/dispatch.h"

namespace tailor::kernels {
namespace {

constexpr int64_t kBlockRows = 64;  // queries per block: keeps the scores of a block small and skips most masked work

at::ScalarType stats_type(const at::Tensor& t) { return t.scalar_type() == at::kDouble ? at::kDouble : at::kFloat; }

// [B, H, T, D] -> [B·KV, G·rows, D] for the query rows [first, first + rows): the group's heads stacked.
at::Tensor group_rows(const at::Tensor& x, int64_t kv, int64_t first, int64_t rows) {
  const int64_t B = x.size(0), H = x.size(1), T = x.size(2), D = x.size(3);
  return x.reshape({B, kv, H / kv, T, D}).narrow(3, first, rows).reshape({B * kv, (H / kv) * rows, D});
}

struct CausalAttentionFunction : torch::autograd::Function<CausalAttentionFunction> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& q, const at::Tensor& k_in,
                            const at::Tensor& v_in, double scale) {
    const int64_t B = q.size(0), H = q.size(1), T = q.size(2), D = q.size(3), KV = k_in.size(1), G = H / KV;
    auto k = k_in.reshape({B * KV, T, D}).contiguous(), v = v_in.reshape({B * KV, T, D}).contiguous();
    auto out = at::empty({B, T, H, D}, q.options());
    auto out_blocks = out.view({B, T, KV, G, D}).permute({0, 2, 3, 1, 4});  // [B, KV, G, T, D]
    auto lse = at::empty({B * KV, G, T}, q.options().dtype(stats_type(q)));
    for (int64_t first = 0; first < T; first += kBlockRows) {
      const int64_t rows = std::min(kBlockRows, T - first), keys = first + rows;
      auto scores = batched_nt(group_rows(q, KV, first, rows), k.narrow(1, 0, keys));
      CausalBlock block{B * KV, G, rows, first, keys, T, scale, kernel_dtype(q, "causal_attention")};
      causal_softmax_forward_cpu({block, scores.data_ptr(), lse.data_ptr()});
      auto o = batched_nt(scores, v.narrow(1, 0, keys).transpose(1, 2));  // [B·KV, G·rows, D]
      out_blocks.narrow(3, first, rows).copy_(o.view({B, KV, G, rows, D}));
    }
    auto result = out.transpose(1, 2);
    ctx->save_for_backward({q, k, v, result, lse});
    ctx->saved_data["scale"] = scale;
    ctx->saved_data["kv"] = KV;
    return result;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const auto &q = saved[0], &k = saved[1], &v = saved[2], &out = saved[3], &lse = saved[4];
    const double scale = ctx->saved_data["scale"].toDouble();
    const int64_t KV = ctx->saved_data["kv"].toInt();
    const int64_t B = q.size(0), H = q.size(1), T = q.size(2), D = q.size(3), G = H / KV;
    auto dout = grads[0].to(q.scalar_type());
    auto delta = (dout.to(lse.scalar_type()) * out.to(lse.scalar_type())).sum(-1).reshape({B * KV, G, T}).contiguous();
    auto dq = at::empty({B, T, H, D}, q.options());
    auto dq_blocks = dq.view({B, T, KV, G, D}).permute({0, 2, 3, 1, 4});
    // Key/value gradients sum over blocks and grouped heads: accumulate in float32.
    auto dk = at::zeros({B * KV, T, D}, q.options().dtype(lse.scalar_type())), dv = at::zeros_like(dk);
    for (int64_t first = 0; first < T; first += kBlockRows) {
      const int64_t rows = std::min(kBlockRows, T - first), keys = first + rows;
      auto qb = group_rows(q, KV, first, rows), dob = group_rows(dout, KV, first, rows);
      auto kb = k.narrow(1, 0, keys), vb = v.narrow(1, 0, keys);
      auto probs = batched_nt(qb, kb);     // raw scores, turned into probabilities in place
      auto dscores = batched_nt(dob, vb);  // dP, turned into dS in place
      CausalBlock block{B * KV, G, rows, first, keys, T, scale, kernel_dtype(q, "causal_attention")};
      causal_softmax_backward_cpu({block, probs.data_ptr(), dscores.data_ptr(), lse.data_ptr(), delta.data_ptr()});
      dv.narrow(1, 0, keys).add_(batched_nt(probs.transpose(1, 2), dob.transpose(1, 2)));
      dk.narrow(1, 0, keys).add_(batched_nt(dscores.transpose(1, 2), qb.transpose(1, 2)));
      dq_blocks.narrow(3, first, rows).copy_(batched_nt(dscores, kb.transpose(1, 2)).view({B, KV, G, rows, D}));
    }
    return {dq.transpose(1, 2), dk.view({B, KV, T, D}).to(q.scalar_type()), dv.view({B, KV, T, D}).to(q.scalar_type()),
            at::Tensor()};
  }
};

void check_shapes(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
  TORCH_CHECK(q.dim() == 4 && k.dim() == 4 && v.dim() == 4, "causal_attention: q, k, v must be [B, heads, T, D]");
  TORCH_CHECK(k.sizes() == v.sizes() && k.size(0) == q.size(0) && k.size(2) == q.size(2) && k.size(3) == q.size(3),
              "causal_attention: q ", q.sizes(), ", k ", k.sizes(), ", v ", v.sizes(), " do not match");
  TORCH_CHECK(k.size(1) > 0 && q.size(1) % k.size(1) == 0, "causal_attention: ", q.size(1),
              " query heads are not a multiple of ", k.size(1), " key/value heads");
  TORCH_CHECK(q.scalar_type() == k.scalar_type() && q.scalar_type() == v.scalar_type(),
              "causal_attention: q, k, v differ in dtype");
}

}  // namespace

at::Tensor causal_attention_reference(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale) {
  const int64_t groups = q.size(1) / k.size(1), T = q.size(2);
  auto kr = groups > 1 ? k.repeat_interleave(groups, 1) : k, vr = groups > 1 ? v.repeat_interleave(groups, 1) : v;
  auto scores = at::matmul(q, kr.transpose(2, 3)) * scale;
  auto future = at::ones({T, T}, q.options().dtype(at::kBool)).triu(1);
  scores = scores.masked_fill(future, -std::numeric_limits<double>::infinity());
  return at::matmul(at::softmax(scores, -1, stats_type(q)).to(q.scalar_type()), vr);
}

at::Tensor causal_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale, KernelMode mode) {
  check_shapes(q, k, v);
  if (mode == KernelMode::reference) return causal_attention_reference(q, k, v, scale);
  if (q.is_cuda())
    return at::scaled_dot_product_attention(q, k, v, std::nullopt, 0.0, /*is_causal=*/true, scale,
                                            /*enable_gqa=*/k.size(1) != q.size(1));
  if (q.size(2) == 0) return at::empty_like(q);
  return CausalAttentionFunction::apply(q, k, v, scale);
}

}  // namespace tailor::kernels
