// Learning-rate schedules with linear warmup, the multipliers transformers' get_constant_schedule_with_warmup,
// get_linear_schedule_with_warmup and get_cosine_schedule_with_warmup (num_cycles 0.5) compute. The
// rate for optimizer step k (0-based) is lr_at(k); a scheduler's "step()" is just k + 1, which is why
// the checkpoint needs nothing but the step.
#pragma once

#include <cstdint>
#include <string>

namespace tailor::train {

enum class ScheduleKind { kConstant, kLinear, kCosine };

ScheduleKind parse_schedule_kind(const std::string& name);  // "constant" | "linear" | "cosine"
std::string schedule_kind_name(ScheduleKind kind);

struct LrSchedule {
  ScheduleKind kind = ScheduleKind::kCosine;
  double base_lr = 2e-4;
  int64_t warmup_steps = 0;
  int64_t total_steps = 1;

  double multiplier(int64_t step) const;
  double lr_at(int64_t step) const { return base_lr * multiplier(step); }
};

}  // namespace tailor::train
