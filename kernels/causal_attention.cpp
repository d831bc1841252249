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

// [B, H, T, D] -> [B·KV, G·rows, D] for the query rows [first, first + rows): the group's heads stacked.
at::Tensor group_rows(const at::Tensor& x, int64_t kv, int64_t first, int64_t rows) {
  const int64_t B = x.size(0), H = x.size(1), T = x.size(2), D = x.size(3);
  return x.reshape({B, kv, H / kv, T, D}).narrow(3, first, rows).reshape({B * kv, (H / kv) * rows, D});
}

// The block of queries first .. first + 63: its columns run from the earliest key any of its rows sees.
CausalBlock block_at(int64_t first, int64_t B, int64_t KV, int64_t G, int64_t T, double scale, const at::Tensor& first_key,
                     const at::Tensor& q) {
  const int64_t rows = std::min(kBlockRows, T - first);
  const int64_t begin = first_key.numel() ? first_key.narrow(1, first, rows).min().item<int64_t>() : 0;
  CausalBlock block{B * KV, G, rows, first, first + rows - begin, T, scale, kernel_dtype(q, "causal_attention")};
  block.first_key = first_key.numel() ? first_key.data_ptr<int64_t>() : nullptr;
  block.kv_heads = KV;
  block.key_begin = begin;
  return block;
}

struct CausalAttentionFunction : torch::autograd::Function<CausalAttentionFunction> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& q, const at::Tensor& k_in,
                            const at::Tensor& v_in, const at::Tensor& first_key, double scale) {
    const int64_t B = q.size(0), H = q.size(1), T = q.size(2), D = q.size(3), KV = k_in.size(1), G = H / KV;
    auto k = k_in.reshape({B * KV, T, D}).contiguous(), v = v_in.reshape({B * KV, T, D}).contiguous();
    auto out = at::empty({B, T, H, D}, q.options());
    auto out_blocks = out.view({B, T, KV, G, D}).permute({0, 2, 3, 1, 4});  // [B, KV, G, T, D]
    auto lse = at::empty({B * KV, G, T}, q.options().dtype(accumulate_type(q)));
    for (int64_t first = 0; first < T; first += kBlockRows) {
      const auto block = block_at(first, B, KV, G, T, scale, first_key, q);
      auto scores = batched_nt(group_rows(q, KV, first, block.block_rows), k.narrow(1, block.key_begin, block.keys));
      causal_softmax_forward_cpu({block, scores.data_ptr(), lse.data_ptr()});
      const int64_t rows = block.block_rows;
      auto o = batched_nt(scores, v.narrow(1, block.key_begin, block.keys).transpose(1, 2));  // [B·KV, G·rows, D]
      out_blocks.narrow(3, first, rows).copy_(o.view({B, KV, G, rows, D}));
    }
    auto result = out.transpose(1, 2);
    ctx->save_for_backward({q, k, v, result, lse, first_key});
    ctx->saved_data["scale"] = scale;
    ctx->saved_data["kv"] = KV;
    return result;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const auto &q = saved[0], &k = saved[1], &v = saved[2], &out = saved[3], &lse = saved[4], &first_key = saved[5];
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
      const auto block = block_at(first, B, KV, G, T, scale, first_key, q);
      const int64_t rows = block.block_rows, key_begin = block.key_begin, keys = block.keys;
      auto qb = group_rows(q, KV, first, rows), dob = group_rows(dout, KV, first, rows);
      auto kb = k.narrow(1, key_begin, keys), vb = v.narrow(1, key_begin, keys);
      auto probs = batched_nt(qb, kb);     // raw scores, turned into probabilities in place
      auto dscores = batched_nt(dob, vb);  // dP, turned into dS in place
      causal_softmax_backward_cpu({block, probs.data_ptr(), dscores.data_ptr(), lse.data_ptr(), delta.data_ptr()});
      dv.narrow(1, key_begin, keys).add_(batched_nt(probs.transpose(1, 2), dob.transpose(1, 2)));
      dk.narrow(1, key_begin, keys).add_(batched_nt(dscores.transpose(1, 2), qb.transpose(1, 2)));
      dq_blocks.narrow(3, first, rows).copy_(batched_nt(dscores, kb.transpose(1, 2)).view({B, KV, G, rows, D}));
    }
    return {dq.transpose(1, 2), dk.view({B, KV, T, D}).to(q.scalar_type()), dv.view({B, KV, T, D}).to(q.scalar_type()),
            at::Tensor(), at::Tensor()};
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

// [B, 1, T, T] (or [T, T] without first_key): query t may see key s when first_key[b, t] <= s <= t.
at::Tensor key_range_mask(const at::Tensor& first_key, int64_t T, const at::Device& device) {
  auto idx = at::arange(T, at::TensorOptions().dtype(at::kLong).device(device));
  auto allowed = idx.view({1, T}) <= idx.view({T, 1});  // [Tq, Tk] causal
  if (!first_key.defined()) return allowed;
  auto fk = first_key.to(device).unsqueeze(-1);  // [B, Tq, 1]
  return allowed.unsqueeze(0).logical_and(idx.view({1, 1, T}) >= fk).unsqueeze(1);  // [B, 1, Tq, Tk]
}

}  // namespace

at::Tensor causal_attention_reference(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale,
                                      const at::Tensor& first_key) {
  const int64_t groups = q.size(1) / k.size(1), T = q.size(2);
  auto kr = groups > 1 ? k.repeat_interleave(groups, 1) : k, vr = groups > 1 ? v.repeat_interleave(groups, 1) : v;
  auto scores = at::matmul(q, kr.transpose(2, 3)) * scale;
  scores = scores.masked_fill(key_range_mask(first_key, T, q.device()).logical_not(), -std::numeric_limits<double>::infinity());
  return at::matmul(at::softmax(scores, -1, accumulate_type(q)).to(q.scalar_type()), vr);
}

at::Tensor causal_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale, KernelMode mode,
                            const at::Tensor& first_key) {
  check_shapes(q, k, v);
  const int64_t T = q.size(2);
  if (first_key.defined()) {
    TORCH_CHECK(first_key.dim() == 2 && first_key.size(0) == q.size(0) && first_key.size(1) == T &&
                    first_key.scalar_type() == at::kLong,
                "causal_attention: first_key must be int64 [", q.size(0), ", ", T, "], got ", first_key.sizes());
    auto t = at::arange(T, first_key.options());
    TORCH_CHECK(((first_key >= 0) & (first_key <= t)).all().item<bool>(),
                "causal_attention: first_key[b, t] must lie in [0, t]");
  }
  if (mode == KernelMode::reference) return causal_attention_reference(q, k, v, scale, first_key);
  if (q.is_cuda()) {
    std::optional<at::Tensor> mask;
    if (first_key.defined()) mask = key_range_mask(first_key, T, q.device());
    return at::scaled_dot_product_attention(q, k, v, mask, 0.0, /*is_causal=*/!mask, scale,
                                            /*enable_gqa=*/k.size(1) != q.size(1));
  }
  if (T == 0) return at::empty_like(q);
  auto fk = first_key.defined() ? first_key.to(at::kCPU).contiguous() : at::empty({0}, at::kLong);
  return CausalAttentionFunction::apply(q, k, v, fk, scale);
}

}  // namespace tailor::kernels
