#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <limits>

#include "train/adamw.h"
#include "train/grad_accumulation.h"
#include "train/grad_clip.h"
#include "train/nonfinite.h"
#include "train/rng_state.h"

namespace tailor::train {
namespace {

TEST(GradientAccumulation, TokenWeightedMicroBatchesGiveTheBigBatchGradient) {
  at::manual_seed(0);
  at::Tensor w = at::randn({5}).requires_grad_(true);
  at::Tensor x = at::randn({10, 5}), t = at::randn({10});
  auto mean_loss = [&](const at::Tensor& xs, const at::Tensor& ts) { return (at::matmul(xs, w) - ts).pow(2).mean(); };

  mean_loss(x, t).backward();
  at::Tensor full = w.grad().clone();
  w.mutable_grad() = at::Tensor();

  GradientAccumulation acc({3, 7});  // uneven micro-batches
  mean_loss(x.slice(0, 0, 3), t.slice(0, 0, 3)).mul(acc.loss_weight(0)).backward();
  EXPECT_FALSE(acc.is_last(0));
  mean_loss(x.slice(0, 3), t.slice(0, 3)).mul(acc.loss_weight(1)).backward();
  EXPECT_TRUE(acc.is_last(1));
  EXPECT_TRUE(at::allclose(w.grad(), full, 1e-5, 1e-6));
}

TEST(NonFinite, DetectsAndCountsConsecutiveBadSteps) {
  at::Tensor a = at::zeros({3}).requires_grad_(true), b = at::zeros({2}).requires_grad_(true);
  a.mutable_grad() = at::ones({3});
  EXPECT_TRUE(grads_finite({a, b}));  // b has no gradient: ignored
  b.mutable_grad() = at::tensor({1.0, std::numeric_limits<double>::quiet_NaN()});
  EXPECT_FALSE(grads_finite({a, b}));
  b.mutable_grad() = at::tensor({1.0, std::numeric_limits<double>::infinity()});
  EXPECT_FALSE(grads_finite({a, b}));
  EXPECT_TRUE(grad_norm({a, b}).isinf().item<bool>());

  NonFiniteGuard guard(3);
  EXPECT_TRUE(guard.record(true));
  EXPECT_FALSE(guard.record(false));
  EXPECT_FALSE(guard.record(false));
  EXPECT_TRUE(guard.record(true));  // a good step resets the run
  for (int i = 0; i < 3; ++i) guard.record(false);
  EXPECT_TRUE(guard.should_stop());
  EXPECT_EQ(guard.skipped(), 5);
}

TEST(RngState, RestoringReplaysTheSameDraws) {
  at::manual_seed(42);
  at::randn({7});
  auto saved = capture_rng_state();
  at::Tensor first = at::randn({16});
  at::Tensor drop_first = at::dropout(at::ones({16}), 0.5, true);
  restore_rng_state(saved);
  EXPECT_TRUE(at::equal(at::randn({16}), first));
  EXPECT_TRUE(at::equal(at::dropout(at::ones({16}), 0.5, true), drop_first));
}

TEST(AdamW, ResumingFromSavedStateContinuesExactly) {
  auto run = [](bool resume_midway) {
    at::manual_seed(3);
    at::Tensor p = at::randn({4, 3}).requires_grad_(true);
    at::Tensor target = at::randn({4, 3});
    AdamWOptions o;
    o.lr = 0.1;
    auto opt = std::make_unique<AdamW>(std::vector<at::Tensor>{p}, std::vector<std::string>{"p"}, o);
    for (int step = 0; step < 6; ++step) {
      if (resume_midway && step == 3) {
        auto state = opt->state_tensors();
        opt = std::make_unique<AdamW>(std::vector<at::Tensor>{p}, std::vector<std::string>{"p"}, o);
        opt->load_state_tensors(state);
      }
      (p - target).pow(2).sum().backward();
      opt->step();
      opt->zero_grad();
    }
    return p.detach().clone();
  };
  EXPECT_TRUE(at::equal(run(false), run(true)));
}

TEST(AdamW, SkipsParametersWithoutGradient) {
  at::Tensor p = at::ones({2}).requires_grad_(true), q = at::ones({2}).requires_grad_(true);
  AdamW opt({p, q}, {"p", "q"}, AdamWOptions{});
  p.mutable_grad() = at::ones({2});
  opt.step();
  EXPECT_FALSE(at::equal(p, at::ones({2})));
  EXPECT_TRUE(at::equal(q, at::ones({2})));
  EXPECT_EQ(opt.state_tensors().count("exp_avg.q"), 0u);
}

}  // namespace
}  // namespace tailor::train
