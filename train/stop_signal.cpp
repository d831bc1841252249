#include "train/stop_signal.h"

#include <csignal>

namespace tailor::train {
namespace {

volatile std::sig_atomic_t requested = 0;

extern "C" void on_stop_signal(int signal) {
  if (requested) {  // second signal: the user means it
    std::signal(signal, SIG_DFL);
    std::raise(signal);
  }
  requested = signal;
}

}  // namespace

void install_stop_handlers() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

bool stop_requested() { return requested != 0; }
int stop_signal_number() { return requested; }

}  // namespace tailor::train
