// The main job: `tailor run RECIPE`. Loads the base model and tokenizer, prepares (or reuses) the
// dataset, puts LoRA on the model, and trains with AdamW, gradient accumulation, clipping and a warmup
// schedule; evaluates on the validation split, checkpoints atomically, resumes from the newest valid
// checkpoint, stops gracefully on SIGINT/SIGTERM, and leaves the adapter (PEFT layout), metrics.jsonl
// and report.html in the run folder.
//
// One training step is `train_step()`: forward, loss, backward over the accumulation window. It touches
// no global state, so a data-parallel wrapper can all-reduce the gradients between it and the update.
#pragma once

#include <filesystem>

#include "train/recipe.h"

namespace tailor::train {

struct RunOutcome {
  int64_t steps = 0;          // optimizer steps completed
  bool interrupted = false;   // stopped by SIGINT/SIGTERM after checkpointing
  bool already_complete = false;  // resumed from a checkpoint at max_steps: nothing trained or sampled again
  std::filesystem::path run_dir, adapter_dir, report;  // the losses are in run_dir/metrics.jsonl
};

RunOutcome run_recipe(const Recipe& recipe);

}  // namespace tailor::train
