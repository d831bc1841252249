#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "formats/gguf.h"
#include "lora/gguf_weight.h"
#include "lora/lora_linear.h"
#include "lora/nf4_weight.h"

namespace tailor::lora {
namespace {

TEST(Nf4Base, LoraOnNf4EqualsLoraOnItsDequantizedWeight) {
  at::manual_seed(0);
  at::Tensor W = at::randn({48, 64});
  auto q = Nf4QuantizedWeight::quantize(W);
  EXPECT_LT(q->storage_bytes() * 6, W.nbytes());  // ~4.1 bits per weight
  at::Tensor dense = kernels::nf4_dequantize(q->nf4(), at::kFloat);
  EXPECT_TRUE(at::equal(q->dequantize(at::kFloat), dense));
  EXPECT_LT((dense - W).abs().max().item<double>(), 0.5);  // NF4 error bound for N(0,1) blocks

  LoraOptions o;
  o.r = 4;
  LoraLinear qlayer(q, std::nullopt, o), dlayer(dense, std::nullopt, o);
  {
    at::NoGradGuard g;
    qlayer->lora_B->weight.normal_();
    dlayer->lora_A->weight.copy_(qlayer->lora_A->weight);
    dlayer->lora_B->weight.copy_(qlayer->lora_B->weight);
  }
  at::Tensor x = at::randn({3, 64});
  EXPECT_TRUE(at::allclose(qlayer->forward(x), dlayer->forward(x), 1e-5, 1e-5));
  at::Tensor y64 = at::empty({48, 64}, at::kDouble);
  q->dequantize_into(y64);  // dtypes the fused kernel lacks go through float32
  EXPECT_TRUE(at::equal(y64.to(at::kFloat), dense));
}

TEST(GgufBase, ShippedModelWeightDequantizesPerUse) {
  std::filesystem::path model = std::filesystem::path(TAILOR_SOURCE_DIR) / ".cache/models/SmolLM2-135M-Instruct.Q4_1.gguf";
  if (!std::filesystem::exists(model)) GTEST_SKIP() << "shipped model not found: " << model;
  auto file = std::make_shared<const formats::GgufFile>(model);
  const formats::GgufTensorInfo* t = nullptr;
  for (const auto& info : file->tensors())
    if (info.ne.size() == 2 && info.type != formats::GgufType::F32 && info.type != formats::GgufType::F16 &&
        info.name.find("blk.0.") == 0) {
      t = &info;
      break;
    }
  ASSERT_NE(t, nullptr);
  GgufQuantizedWeight w(file, *t);
  std::vector<float> expected = formats::dequantize(*t);
  at::Tensor want = at::from_blob(expected.data(), {t->rows(), t->row_length()}, at::kFloat).clone();
  EXPECT_TRUE(at::equal(w.dequantize(at::kFloat), want)) << t->name;
  EXPECT_TRUE(at::equal(w.dequantize(at::kBFloat16), want.to(at::kBFloat16)));

  at::Tensor reversed = at::arange(t->rows() - 1, -1, -1, at::kLong);
  GgufQuantizedWeight flipped(file, *t, reversed);
  EXPECT_TRUE(at::equal(flipped.dequantize(at::kFloat), want.flip(0)));

  LoraLinear layer(std::make_shared<GgufQuantizedWeight>(file, *t), std::nullopt, LoraOptions{});
  at::Tensor x = at::randn({2, t->row_length()});
  EXPECT_TRUE(at::allclose(layer->forward(x), at::linear(x, want), 1e-4, 1e-4));
  EXPECT_EQ(layer->quantized_weight()->format(), std::string(formats::gguf_type_name(t->type)));
}

}  // namespace
}  // namespace tailor::lora
