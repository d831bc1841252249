#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <memory>

#include "core/error.h"
#include "lora/lora_linear.h"

namespace tailor::lora {
namespace {

// Int8 rows with a per-row scale: the smallest real quantized base, to check the LoRA layer treats a
// quantized weight exactly like the dense weight it dequantizes to.
class Int8RowWeight : public QuantizedWeight {
 public:
  explicit Int8RowWeight(const at::Tensor& w) {
    scale_ = w.abs().amax(1, true) / 127;
    q_ = at::round(w / scale_).to(at::kChar);
  }
  int64_t out_features() const override { return q_.size(0); }
  int64_t in_features() const override { return q_.size(1); }
  std::string format() const override { return "int8-test"; }
  int64_t storage_bytes() const override { return q_.numel(); }
  at::Device device() const override { return q_.device(); }
  void dequantize_into(at::Tensor& out) const override { out.copy_(q_.to(at::kFloat) * scale_); }

 private:
  at::Tensor q_, scale_;
};

LoraOptions opts(bool dora = false, bool rslora = false) {
  LoraOptions o;
  o.r = 4;
  o.alpha = 8;
  o.use_dora = dora;
  o.use_rslora = rslora;
  return o;
}

void randomize_b(LoraLinear& layer) {
  at::NoGradGuard g;
  layer->lora_B->weight.normal_(0, 0.5);
}

TEST(LoraLinear, DefaultInitIsKaimingUniformAndZeroB) {
  at::manual_seed(0);
  LoraLinear layer(at::randn({32, 64}), std::nullopt, opts());
  const double bound = 1.0 / std::sqrt(64.0);  // kaiming_uniform(a=sqrt(5)) on fan_in 64
  EXPECT_LE(layer->lora_A->weight.abs().max().item<double>(), bound);
  EXPECT_GT(layer->lora_A->weight.abs().max().item<double>(), 0.8 * bound);
  EXPECT_EQ(layer->lora_B->weight.abs().max().item<double>(), 0.0);
  at::Tensor x = at::randn({5, 64});
  EXPECT_TRUE(at::allclose(layer->forward(x), at::linear(x, layer->base_weight(at::kFloat))));
}

TEST(LoraLinear, ScalingRules) {
  EXPECT_DOUBLE_EQ(opts().scaling(), 2.0);
  EXPECT_DOUBLE_EQ(opts(false, true).scaling(), 4.0);  // 8 / sqrt(4)
}

TEST(LoraLinear, ForwardIsBasePlusScaledLowRank) {
  at::manual_seed(1);
  at::Tensor W = at::randn({6, 10}), b = at::randn({6});
  LoraLinear layer(W, b, opts());
  randomize_b(layer);
  at::Tensor x = at::randn({3, 10});
  at::Tensor expected = at::linear(x, W, b) + 2.0 * at::linear(at::linear(x, layer->lora_A->weight), layer->lora_B->weight);
  EXPECT_TRUE(at::allclose(layer->forward(x), expected, 1e-5, 1e-6));
}

TEST(LoraLinear, MergedEqualsBasePlusAdapter) {
  for (bool dora : {false, true}) {
    at::manual_seed(2);
    at::Tensor W = at::randn({6, 10});
    LoraLinear layer(W.clone(), at::randn({6}), opts(dora));
    randomize_b(layer);
    at::Tensor x = at::randn({4, 10});
    at::NoGradGuard g;
    at::Tensor unmerged = layer->forward(x);
    layer->merge();
    EXPECT_TRUE(layer->merged());
    EXPECT_TRUE(at::allclose(layer->forward(x), unmerged, 1e-5, 1e-5)) << "dora=" << dora;
    if (!dora) {
      EXPECT_TRUE(at::allclose(layer->base_weight(at::kFloat), W + layer->delta_weight(), 1e-6, 1e-6));
    }
    layer->unmerge();
    EXPECT_TRUE(at::allclose(layer->base_weight(at::kFloat), W, 1e-5, 1e-6)) << "dora=" << dora;
  }
}

TEST(LoraLinear, QuantizedBaseBehavesLikeItsDequantizedWeight) {
  for (bool dora : {false, true}) {
    at::manual_seed(3);
    auto q = std::make_shared<Int8RowWeight>(at::randn({6, 10}));
    at::Tensor dense = q->dequantize(at::kFloat);
    LoraLinear qlayer(q, std::nullopt, opts(dora));
    LoraLinear dlayer(dense, std::nullopt, opts(dora));
    randomize_b(qlayer);
    {
      at::NoGradGuard g;
      dlayer->lora_A->weight.copy_(qlayer->lora_A->weight);
      dlayer->lora_B->weight.copy_(qlayer->lora_B->weight);
      if (dora) dlayer->lora_magnitude_vector.copy_(qlayer->lora_magnitude_vector);
    }
    at::Tensor x1 = at::randn({4, 10}).requires_grad_(true), x2 = x1.detach().clone().requires_grad_(true);
    at::Tensor g = at::randn({4, 6});
    at::Tensor y1 = qlayer->forward(x1), y2 = dlayer->forward(x2);
    y1.backward(g);
    y2.backward(g);
    EXPECT_TRUE(at::allclose(y1, y2, 1e-5, 1e-6));
    EXPECT_TRUE(at::allclose(x1.grad(), x2.grad(), 1e-5, 1e-6));
    EXPECT_TRUE(at::allclose(qlayer->lora_A->weight.grad(), dlayer->lora_A->weight.grad(), 1e-5, 1e-6));
    // Merging a quantized base makes it dense for a while; unmerge brings the quantized base back.
    at::NoGradGuard ng;
    qlayer->merge();
    EXPECT_FALSE(qlayer->quantized());
    EXPECT_TRUE(at::allclose(qlayer->forward(x1), y1, 1e-5, 1e-5));
    qlayer->unmerge();
    EXPECT_TRUE(qlayer->quantized());
    EXPECT_TRUE(at::equal(qlayer->base_weight(at::kFloat), dense));
  }
}

TEST(LoraLinear, DoraMagnitudeStartsAtRowNorms) {
  at::manual_seed(4);
  at::Tensor W = at::randn({6, 10});
  LoraLinear layer(W, std::nullopt, opts(true));
  EXPECT_TRUE(at::allclose(layer->lora_magnitude_vector, at::linalg_vector_norm(W, 2, {1})));
}

TEST(LoraLinear, DropoutOnlyWhileTraining) {
  at::manual_seed(5);
  LoraOptions o = opts();
  o.dropout = 0.5;
  LoraLinear layer(at::randn({6, 10}), std::nullopt, o);
  randomize_b(layer);
  at::Tensor x = at::randn({8, 10});
  layer->eval();
  EXPECT_TRUE(at::equal(layer->forward(x), layer->forward(x)));
  layer->train();
  EXPECT_FALSE(at::equal(layer->forward(x), layer->forward(x)));
}

TEST(LoraLinear, LoadRejectsWrongShapeAndUnknownName) {
  LoraLinear layer(at::randn({6, 10}), std::nullopt, opts());
  EXPECT_THROW(layer->load_adapter_tensor("lora_A.weight", at::zeros({4, 11})), InputError);
  EXPECT_THROW(layer->load_adapter_tensor("lora_magnitude_vector", at::zeros({6})), InputError);
  layer->load_adapter_tensor("lora_B.weight", at::ones({6, 4}));
  EXPECT_EQ(layer->lora_B->weight.sum().item<double>(), 24.0);
}

TEST(LoraLinear, FusedKernelModeMatchesReference) {
  for (bool quantized : {false, true}) {
    at::manual_seed(6);
    at::Tensor W = at::randn({12, 16}), b = at::randn({12});
    auto make = [&] {
      return quantized ? LoraLinear(std::make_shared<Int8RowWeight>(W), b, opts()) : LoraLinear(W.clone(), b, opts());
    };
    LoraLinear ref = make(), fused = make();
    randomize_b(ref);
    {
      at::NoGradGuard g;
      fused->lora_A->weight.copy_(ref->lora_A->weight);
      fused->lora_B->weight.copy_(ref->lora_B->weight);
    }
    fused->set_kernel_mode(kernels::KernelMode::fused);
    at::Tensor x1 = at::randn({2, 3, 16}).requires_grad_(true), x2 = x1.detach().clone().requires_grad_(true);
    at::Tensor g = at::randn({2, 3, 12});
    at::Tensor y1 = ref->forward(x1), y2 = fused->forward(x2);
    y1.backward(g);
    y2.backward(g);
    EXPECT_TRUE(at::allclose(y1, y2, 1e-5, 1e-5)) << "quantized=" << quantized;
    EXPECT_TRUE(at::allclose(x1.grad(), x2.grad(), 1e-5, 1e-5));
    EXPECT_TRUE(at::allclose(ref->lora_A->weight.grad(), fused->lora_A->weight.grad(), 1e-5, 1e-5));
    EXPECT_TRUE(at::allclose(ref->lora_B->weight.grad(), fused->lora_B->weight.grad(), 1e-5, 1e-5));
  }
}

TEST(LoraLinear, PissaNeedsDenseBase) {
  LoraOptions o = opts();
  o.init = LoraInit::kPissa;
  EXPECT_THROW(LoraLinear(std::make_shared<Int8RowWeight>(at::randn({6, 10})), std::nullopt, o), InputError);
}

}  // namespace
}  // namespace tailor::lora
