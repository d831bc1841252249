// SIGINT / SIGTERM ask the run to stop gracefully: the trainer finishes the current step, writes a
// checkpoint and exits 0 saying how to resume. A second signal ends the process at once.
#pragma once

namespace tailor::train {

void install_stop_handlers();
bool stop_requested();
int stop_signal_number();  // which signal asked (0 if none)

}  // namespace tailor::train
