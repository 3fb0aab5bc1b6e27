#include "util/signals.h"

#include <csignal>
#include <thread>

namespace pickaxe {

namespace {
volatile std::sig_atomic_t received = 0;

volatile std::sig_atomic_t reload = 0;

extern "C" void on_stop_signal(int signal) {
  received = signal;
}
extern "C" void on_reload_signal(int) {
  reload = 1;
}
}  // namespace

void install_reload_signal() {
  struct sigaction action {};
  action.sa_handler = on_reload_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGHUP, &action, nullptr);
}

bool take_reload_request() {
  if (!reload) return false;
  reload = 0;
  return true;
}

void install_stop_signals() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  // No SA_RESTART: a blocking read returns (EINTR), so the stop is seen at
  // once; SA_RESETHAND: a second signal takes its default course.
  action.sa_flags = SA_RESETHAND;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  // A file size limit (ulimit -f) makes writes fail with EFBIG, reported as
  // a full disk is, instead of killing the process.
  signal(SIGXFSZ, SIG_IGN);
}

bool stop_requested() {
  return received != 0;
}

void sleep_unless_stopped(std::chrono::milliseconds wait) {
  const auto until = std::chrono::steady_clock::now() + wait;
  while (std::chrono::steady_clock::now() < until && !stop_requested())
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

int stop_signal() {
  return received;
}

const char* stop_signal_name() {
  return received == SIGINT ? "SIGINT" : received == SIGTERM ? "SIGTERM" : "a signal";
}

}  // namespace pickaxe
