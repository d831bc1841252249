// What a person watching a run sees: on a terminal one live line (step/total, loss, lr, tokens/s, ETA,
// memory) redrawn in place; elsewhere (logs, CI) a plain line every log_every steps. Built from the
// same metrics records that go to metrics.jsonl.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace tailor::train {

class Progress {
 public:
  Progress(int total_steps, int log_every, bool terminal);
  void train_step(const nlohmann::json& record);  // a "train" metrics record
  void eval(const nlohmann::json& record);        // an "eval" record: always its own line
  void message(const std::string& text);          // an event line, without breaking the live line
  void finish();

 private:
  void end_live_line();
  int total_, log_every_;
  bool terminal_, live_line_ = false;
};

std::string format_duration(double seconds);  // "1h02m", "4m05s", "12s"
std::string format_bytes(double bytes);       // "812 MiB", "1.4 GiB"

}  // namespace tailor::train
