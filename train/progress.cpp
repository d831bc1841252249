#include "train/progress.h"

#include <cmath>
#include <cstdio>
#include <iostream>

namespace tailor::train {

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  long s = std::lround(seconds);
  char buf[32];
  if (s >= 3600) std::snprintf(buf, sizeof buf, "%ldh%02ldm", s / 3600, (s % 3600) / 60);
  else if (s >= 60) std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
  else std::snprintf(buf, sizeof buf, "%lds", s);
  return buf;
}

std::string format_bytes(double bytes) {
  char buf[32];
  if (bytes >= 1024.0 * 1024 * 1024) std::snprintf(buf, sizeof buf, "%.1f GiB", bytes / (1024.0 * 1024 * 1024));
  else std::snprintf(buf, sizeof buf, "%.0f MiB", bytes / (1024.0 * 1024));
  return buf;
}

Progress::Progress(int total_steps, int log_every, bool terminal)
    : total_(total_steps), log_every_(log_every > 0 ? log_every : 1), terminal_(terminal) {}

void Progress::train_step(const nlohmann::json& r) {
  int step = r.value("step", 0);
  if (!terminal_ && step % log_every_ != 0 && step != total_) return;
  double elapsed = r.value("elapsed_s", 0.0);
  double eta = step > 0 ? elapsed / step * (total_ - step) : NAN;
  char line[256];
  std::snprintf(line, sizeof line, "step %d/%d  loss %.4f  lr %.2e  %.0f tok/s  ETA %s  mem %s", step, total_,
                r.value("loss", NAN), r.value("lr", 0.0), r.value("tokens_per_s", 0.0), format_duration(eta).c_str(),
                format_bytes(r.value("memory_bytes", 0.0)).c_str());
  if (terminal_) {
    std::cout << "\r\033[K" << line << std::flush;
    live_line_ = true;
  } else {
    std::cout << line << "\n" << std::flush;
  }
}

void Progress::eval(const nlohmann::json& r) {
  char line[256];
  std::snprintf(line, sizeof line, "eval step %d: loss %.4f  perplexity %.2f  bits/byte %.4f", r.value("step", 0),
                r.value("loss", NAN), r.value("perplexity", NAN), r.value("bits_per_byte", NAN));
  message(line);
}

void Progress::message(const std::string& text) {
  end_live_line();
  std::cout << text << "\n" << std::flush;
}

void Progress::end_live_line() {
  if (live_line_) std::cout << "\n";
  live_line_ = false;
}

void Progress::finish() { end_live_line(); }

}  // namespace tailor::train
