#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "core/error.h"
#include "lora/adapter.h"
#include "train/checkpoint.h"

namespace tailor::train {
namespace {
namespace fs = std::filesystem;

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("tailor-ckpt-" + std::to_string(::getpid()) + "-" + std::to_string(std::random_device{}()));
    fs::create_directories(path);
  }
  ~TempDir() { remove_tree(path); }
};

lora::Adapter make_adapter(int64_t width) {
  lora::AdapterConfig config;
  config.r = 4;
  config.target_modules = {"lin"};
  lora::Adapter adapter(config);
  lora::LoraOptions options = config.options_for("lin");
  adapter.add_lora("lin", lora::LoraLinear(at::randn({width, width}), std::nullopt, options));
  return adapter;
}

TrainState make_state(int64_t step, int64_t width) {
  TrainState s;
  s.step = step;
  s.trainer = {{"data_cursor", step * 10}};
  s.recipe = "max_steps: 100\n";
  s.tensors["exp_avg.x"] = at::full({width, width}, static_cast<double>(step));
  return s;
}

TEST(Checkpoint, SaveLoadRoundTrip) {
  TempDir dir;
  at::manual_seed(0);
  lora::Adapter adapter = make_adapter(8);
  {
    at::NoGradGuard g;
    adapter.lora_layers().at("lin")->lora_B->weight.normal_();
  }
  at::Tensor B = adapter.lora_layers().at("lin")->lora_B->weight.clone();
  fs::path folder = save_checkpoint(dir.path, adapter, make_state(5, 8), 3);
  EXPECT_EQ(folder.filename(), "checkpoint-5");
  EXPECT_TRUE(fs::exists(folder / "adapter" / "adapter_model.safetensors"));

  lora::Adapter other = make_adapter(8);
  TrainState back = load_checkpoint(folder, other);
  EXPECT_EQ(back.step, 5);
  EXPECT_EQ(back.trainer["data_cursor"], 50);
  EXPECT_EQ(back.recipe, "max_steps: 100\n");
  EXPECT_TRUE(at::equal(back.tensors.at("exp_avg.x"), at::full({8, 8}, 5.0)));
  EXPECT_TRUE(at::equal(other.lora_layers().at("lin")->lora_B->weight, B));
}

TEST(Checkpoint, KeepsLastKAndSkipsCorruptOnes) {
  TempDir dir;
  lora::Adapter adapter = make_adapter(4);
  for (int step : {1, 2, 3, 4}) save_checkpoint(dir.path, adapter, make_state(step, 4), 2);
  auto all = list_checkpoints(dir.path);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].first, 3);
  EXPECT_EQ(all[1].first, 4);
  EXPECT_EQ(find_latest_checkpoint(dir.path), dir.path / "checkpoint-4");

  {  // flip one byte of the newest: it no longer verifies, resume falls back to step 3
    std::fstream f(dir.path / "checkpoint-4" / "state.safetensors", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(-1, std::ios::end);
    f.put('\x7f');
  }
  EXPECT_TRUE(checkpoint_problem(dir.path / "checkpoint-4").has_value());
  EXPECT_EQ(find_latest_checkpoint(dir.path), dir.path / "checkpoint-3");
  lora::Adapter other = make_adapter(4);
  EXPECT_THROW(load_checkpoint(dir.path / "checkpoint-4", other), InputError);

  fs::remove(dir.path / "checkpoint-3" / "manifest.json");
  EXPECT_FALSE(find_latest_checkpoint(dir.path).has_value());
  EXPECT_FALSE(find_latest_checkpoint(dir.path / "nowhere").has_value());
}

// A child writes checkpoint 2 and is SIGKILLed at a random instant of the write; checkpoint 1 must
// still verify and load, and checkpoint 2 either verifies with the right contents or is ignored.
TEST(Checkpoint, KillDuringWriteLeavesPreviousCheckpointLoadable) {
  at::set_num_threads(1);  // fork() below: keep LibTorch single-threaded
  TempDir dir;
  const int64_t width = 512;  // ~1 MiB per tensor file, so a write takes a few ms
  at::manual_seed(1);
  lora::Adapter adapter = make_adapter(width);
  save_checkpoint(dir.path, adapter, make_state(1, width), 3);

  auto start = std::chrono::steady_clock::now();
  {
    TempDir probe;
    save_checkpoint(probe.path, adapter, make_state(2, width), 3);
  }
  const auto write_us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start).count();

  std::mt19937 rng(1234);
  int completed = 0, interrupted = 0;
  for (int rep = 0; rep < 20; ++rep) {
    remove_tree(dir.path / "checkpoint-2");
    pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      try {
        save_checkpoint(dir.path, adapter, make_state(2, width), 3);
      } catch (...) {
        ::_exit(1);
      }
      ::_exit(0);
    }
    std::this_thread::sleep_for(std::chrono::microseconds(std::uniform_int_distribution<int64_t>(0, write_us)(rng)));
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);

    auto latest = find_latest_checkpoint(dir.path);
    ASSERT_TRUE(latest.has_value()) << "rep " << rep << ": no valid checkpoint left";
    EXPECT_FALSE(checkpoint_problem(dir.path / "checkpoint-1").has_value()) << "rep " << rep;
    lora::Adapter other = make_adapter(width);
    TrainState state = load_checkpoint(*latest, other);
    EXPECT_TRUE(at::equal(state.tensors.at("exp_avg.x"), at::full({width, width}, static_cast<double>(state.step))));
    (state.step == 2 ? completed : interrupted)++;
  }
  std::cout << "kill during checkpoint write: " << interrupted << " interrupted, " << completed
            << " completed before the kill (write takes ~" << write_us << " us)\n";
  EXPECT_GT(interrupted, 0) << "no kill landed inside the write; the test proved nothing";
}

}  // namespace
}  // namespace tailor::train
