// SIGINT and SIGTERM as a request to stop: the input read so far is
// finished as if it had ended there (results, summary), then pickaxe exits
// with 128 + the signal's number. A second signal ends the process at once.
#pragma once

#include <chrono>

namespace pickaxe {

void install_stop_signals();
bool stop_requested();
int stop_signal();  // the signal received, or 0
const char* stop_signal_name();
// Sleeps `wait`, or less when a stop is requested meanwhile.
void sleep_unless_stopped(std::chrono::milliseconds wait);

// SIGHUP as a request to reload (watch): taken once each time it comes.
void install_reload_signal();
bool take_reload_request();

}  // namespace pickaxe
