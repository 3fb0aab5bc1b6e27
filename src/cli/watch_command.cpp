// watch's loop: follow files (and stdin), feed what they gain to the hunter,
// let results out as the stream's time moves with the wall clock, and keep
// checkpoints from which a restart goes on with nothing lost or repeated.
#include <fcntl.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>

#include <fmt/format.h>

#include "cli/hunt_options.h"
#include "cli/metrics.h"
#include "cli/state_dir.h"
#include "ingest/follow.h"
#include "util/signals.h"

namespace pickaxe::cli {

namespace {

// How often watch looks at its inputs and lets results out when nothing
// wakes it: well inside the one second an alert may take.
constexpr auto kWatchTick = std::chrono::milliseconds(100);
// An input quiet this long has written its events whole: a text source's
// open event (an auditd event still waiting for records) goes on.
constexpr auto kQuietInput = std::chrono::milliseconds(500);
// How often the metrics and the status line are brought up to date.
constexpr auto kPublishEvery = std::chrono::milliseconds(250);
// How often a checkpoint is taken (and at the stop).
constexpr auto kCheckpointEvery = std::chrono::seconds(2);

bool same_fields(const FieldIndex& a, const FieldIndex& b) {
  if (a.size() != b.size()) return false;
  for (uint32_t slot = 0; slot < a.size(); ++slot)
    if (a.path(slot) != b.path(slot)) return false;
  return true;
}

// Seconds as people read them: 0.4 s, 12 s, 3 min, 5 h, 34 d.
std::string duration(double seconds) {
  if (seconds < 10) return fmt::format("{:.1f} s", seconds);
  if (seconds < 120) return fmt::format("{:.0f} s", seconds);
  if (seconds < 7200) return fmt::format("{:.0f} min", seconds / 60);
  if (seconds < 172800) return fmt::format("{:.0f} h", seconds / 3600);
  return fmt::format("{:.0f} d", seconds / 86400);
}

std::string status_line(const Figures& figures) {
  std::string line =
      fmt::format("  watching {} file{}: {} events, {} alerts, {} partial sequences",
                  figures.behind.size(), figures.behind.size() == 1 ? "" : "s",
                  figures.stats.stream.events, figures.stats.alerts, figures.partial_sequences);
  if (figures.lag) line += ", lag " + duration(*figures.lag);
  if (figures.checkpoint_age)
    line += fmt::format(", checkpoint {:.0f} s ago", *figures.checkpoint_age);
  return line;
}

}  // namespace

WatchEnd watch_inputs(const HuntCommandOptions& options, std::unique_ptr<HuntBuild>& current,
                      const HuntBuilder& build, Output& out, int output_fd) {
  Hunter* hunter = current->hunter.get();
  auto fail = [&](const std::string& message) {
    std::cerr << "pickaxe: " << message << "\n";
    return WatchEnd{kFindings, false};
  };
  std::vector<std::string> paths;
  bool follow_stdin = options.files.empty();
  for (const std::string& path : options.files) {
    if (path == "-")
      follow_stdin = true;
    else
      paths.push_back(path);
  }
  FileFollower follower(paths, options.from_beginning);
  std::map<uint64_t, std::unique_ptr<LiveInput>> inputs;
  std::map<uint64_t, std::chrono::steady_clock::time_point> fed_at;  // when each last gave bytes
  FileFollower::Handler handler{[&](uint64_t id, const std::string& path) {
                                  auto input = std::make_unique<LiveInput>();
                                  input->name = path;
                                  inputs[id] = std::move(input);
                                  // An open event restored with it waits its quiet too.
                                  fed_at[id] = std::chrono::steady_clock::now();
                                },
                                [&](uint64_t id, std::string_view bytes) {
                                  fed_at[id] = std::chrono::steady_clock::now();
                                  hunter->feed(*inputs.at(id), bytes);
                                },
                                [&](uint64_t id) {
                                  hunter->end_input(*inputs.at(id));
                                  inputs.erase(id);
                                  fed_at.erase(id);
                                },
                                [&](const std::string& path, const std::string& message) {
                                  if (!options.stream.quiet)
                                    std::cerr << fmt::format("pickaxe: {}: {}\n", path, message);
                                }};

  // The checkpoint: restored first, then taken as the run goes.
  std::unique_ptr<Checkpoints> checkpoints;
  struct stat output_info {};
  const bool output_is_file = ::fstat(output_fd, &output_info) == 0 &&
                              S_ISREG(output_info.st_mode) && !options.output.empty();
  if (!options.state_dir.empty()) {
    checkpoints = std::make_unique<Checkpoints>(options.state_dir);
    std::string error;
    if (!checkpoints->open(error)) return fail("--state-dir: " + error);
    if (follow_stdin && !options.stream.quiet)
      std::cerr << "pickaxe: --state-dir: stdin's position is not checkpointed (a pipe cannot "
                   "be read again)\n";
    if (options.reset_state) std::filesystem::remove(checkpoints->path());
    bool exists = false;
    std::string text = read_whole(checkpoints->path(), exists);
    if (exists) {
      Checkpoint checkpoint;
      if (!decode(text, checkpoint, error))
        return fail(fmt::format("{}: {}; --reset-state starts afresh", checkpoints->path(), error));
      // Taken after a reload, its events number their fields as the hunter
      // before it did: the hunter is built again so.
      if (std::optional<FieldIndex> fields = Hunter::saved_fields(checkpoint.hunt);
          fields && !same_fields(*fields, hunter->fields())) {
        std::unique_ptr<HuntBuild> rebuilt = build(&*fields);
        if (!rebuilt) return fail("the rules have errors");
        current = std::move(rebuilt);
        hunter = current->hunter.get();
      }
      if (!hunter->load(checkpoint.hunt, &error))
        return fail(fmt::format("{}: {}; --reset-state starts afresh", checkpoints->path(), error));
      if (output_is_file) {
        // Alerts written after the checkpoint come again: they go.
        if (static_cast<uint64_t>(output_info.st_size) < checkpoint.output_length)
          return fail(fmt::format(
              "{} holds {} bytes, fewer than the {} its checkpoint counted: was it changed? "
              "--reset-state starts afresh",
              options.output, output_info.st_size, checkpoint.output_length));
        if (::ftruncate(output_fd, static_cast<off_t>(checkpoint.output_length)) != 0)
          return fail(fmt::format("cannot cut {} back to its checkpoint: {}", options.output,
                                  std::strerror(errno)));
      }
      if (std::optional<std::string> damaged =
              restore_inputs(follower, handler, checkpoint.inputs, inputs,
                             [&](uint64_t, LiveInput& input, const SavedInput& saved) {
                               return hunter->restore_input(input, *saved.kind, saved.decoder);
                             }))
        return fail(fmt::format("{}: the state of {} is damaged; --reset-state starts afresh",
                                checkpoints->path(), *damaged));
    }
  }

  std::unique_ptr<MetricsServer> metrics;
  if (!options.metrics_address.empty()) {
    metrics = std::make_unique<MetricsServer>();
    std::string error;
    if (!metrics->start(options.metrics_address, error)) return fail(error);
    if (!options.stream.quiet) {
      const std::string host =
          options.metrics_address.substr(0, options.metrics_address.rfind(':'));
      std::cerr << fmt::format("pickaxe: metrics on http://{}:{}/metrics\n", host, metrics->port());
    }
  }
  const bool show_status = !options.stream.quiet && ::isatty(STDERR_FILENO) == 1;
  uint64_t reloads = 0, failed_reloads = 0;
  std::optional<double> checkpoint_seconds;

  const uint64_t restored_events = hunter->stats().stream.events;  // read by earlier runs
  if (checkpoints && restored_events > 0 && !options.stream.quiet)
    std::cerr << fmt::format("pickaxe: resumed from {} ({} events read before)\n",
                             checkpoints->path(), restored_events);
  // stdin is an input like the files, with an id the follower never gives.
  constexpr uint64_t kStdin = 0;
  if (follow_stdin) {
    inputs[kStdin] = std::make_unique<LiveInput>();
    inputs[kStdin]->name = "-";
    fed_at[kStdin] = std::chrono::steady_clock::now();
  }
  std::vector<char> stdin_buffer(follow_stdin ? 64 * 1024 : 0);
  bool ended = false;  // stdin, the only input, ended: so does the run
  using Clock = std::chrono::steady_clock;
  Clock::time_point newest_at = Clock::now();
  Clock::time_point checkpointed = Clock::now(), published;
  int64_t newest = hunter->newest_time();
  // A checkpoint: results out and on disk first, then the state that follows them.
  // The alerts could not be written: said with where, how many, and what next.
  auto cannot_write = [&] {
    std::cerr << fmt::format(
        "pickaxe: cannot write the alerts: {} ({}); {} of {} alerts were not written{}\n",
        out.error(), options.output.empty() ? "stdout" : "--output " + options.output, out.lost(),
        out.records(),
        checkpoints ? "; watch stops (the last checkpoint is whole: a restart with room goes on "
                      "from it)"
                    : "");
    return WatchEnd{kFindings, false};
  };
  auto take_checkpoint = [&]() -> bool {
    const Clock::time_point began = Clock::now();
    if (!out.flush()) {
      cannot_write();
      return false;
    }
    Checkpoint checkpoint;
    if (output_is_file) {
      if (::fsync(output_fd) != 0) {
        std::cerr << fmt::format("pickaxe: cannot sync {}: {}\n", options.output,
                                 std::strerror(errno));
        return false;
      }
      struct stat info {};
      if (::fstat(output_fd, &info) == 0) checkpoint.output_length = info.st_size;
    }
    hunter->save(checkpoint.hunt);
    std::string error;
    checkpoint.inputs = save_inputs(follower, inputs);
    if (!checkpoints->write(encode(checkpoint), error)) {
      std::cerr << "pickaxe: " << error
                << "; watch stops (the last checkpoint is whole: it resumes from there)\n";
      return false;
    }
    checkpointed = Clock::now();
    checkpoint_seconds = std::chrono::duration<double>(checkpointed - began).count();
    return true;
  };
  auto figures = [&](Clock::time_point now) {
    Figures figures;
    figures.stats = hunter->stats();
    figures.partial_sequences = hunter->partial_sequences();
    figures.behind = follower.bytes_behind();
    if (std::optional<int64_t> watermark = hunter->watermark(
            std::chrono::duration_cast<std::chrono::nanoseconds>(now - newest_at).count())) {
      const int64_t wall = std::chrono::duration_cast<std::chrono::nanoseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
      figures.lag = static_cast<double>(wall - *watermark) / 1e9;
    }
    if (checkpoints) {
      figures.checkpoint_age = std::chrono::duration<double>(now - checkpointed).count();
      figures.checkpoint_seconds = checkpoint_seconds;
    }
    figures.reloads = reloads;
    figures.failed_reloads = failed_reloads;
    return figures;
  };
  // A first checkpoint before anything is read: a crash before the next one
  // then goes back to here (the output's length as found, the files' starts).
  follower.start(handler);
  if (checkpoints && !take_checkpoint()) return WatchEnd{kFindings, false};
  while (!stop_requested()) {
    size_t got = follower.poll(handler);
    if (follow_stdin) {
      pollfd descriptor{STDIN_FILENO, POLLIN, 0};
      if (::poll(&descriptor, 1, got > 0 ? 0 : static_cast<int>(kWatchTick.count())) > 0) {
        ssize_t read = ::read(STDIN_FILENO, stdin_buffer.data(), stdin_buffer.size());
        if (read > 0) {
          fed_at[kStdin] = Clock::now();
          hunter->feed(*inputs.at(kStdin), std::string_view(stdin_buffer.data(), read));
          got += static_cast<size_t>(read);
        } else if (read == 0 || (errno != EINTR && errno != EAGAIN)) {
          hunter->end_input(*inputs.at(kStdin));  // stdin closed: watching it is over
          inputs.erase(kStdin);
          follow_stdin = false;
          if (paths.empty()) {
            ended = true;
            break;
          }
        }
      }
    }
    const Clock::time_point now = Clock::now();
    // An input quiet for a while has written its open text event whole.
    for (auto& [id, input] : inputs) {
      if (input->decoder && input->decoder->open_event() && now - fed_at[id] >= kQuietInput)
        hunter->settle_input(*input);
    }
    if (take_reload_request()) {
      // Inputs close their text decoders (bound to the old stream) first.
      for (auto& [id, input] : inputs) hunter->close_decoder(*input);
      hunter->drain();
      std::unique_ptr<HuntBuild> next = build(&hunter->fields());
      if (!next) {
        ++failed_reloads;
        std::cerr << "pickaxe: reload failed: the rules or exceptions above have errors; the "
                     "rules loaded before keep running\n";
      } else {
        ++reloads;
        const size_t kept = next->hunter->adopt(*hunter);
        current = std::move(next);
        hunter = current->hunter.get();
        newest = hunter->newest_time();
        // The checkpoint names the rule set: one of the new set, at once, and
        // before the reload is said (a kill after the message finds it).
        if (checkpoints && !take_checkpoint()) return WatchEnd{kFindings, false};
        std::cerr << fmt::format("pickaxe: reloaded {} rules; {} {} kept their state\n",
                                 hunter->rule_count(), kept, kept == 1 ? "query" : "queries");
      }
    }
    if (hunter->newest_time() != newest) {
      newest = hunter->newest_time();
      newest_at = now;
    }
    hunter->advance_quiet(
        std::chrono::duration_cast<std::chrono::nanoseconds>(now - newest_at).count());
    hunter->drain();
    if (!out.flush()) return cannot_write();
    if (checkpoints && now - checkpointed >= kCheckpointEvery && !take_checkpoint())
      return WatchEnd{kFindings, false};
    if ((metrics || show_status) && now - published >= kPublishEvery) {
      published = now;
      Figures current = figures(now);
      if (metrics) metrics->publish(metrics_text(current));
      if (show_status) std::cerr << "\r\x1b[K" << status_line(current) << std::flush;
    }
    if (got == 0 && !follow_stdin) follower.wait(kWatchTick);
  }
  if (show_status) std::cerr << "\r\x1b[K" << std::flush;
  if (checkpoints && !ended) {
    // Stopped, to go on later: the inputs have not ended (open text events
    // are in the checkpoint, with their decoders).
    hunter->drain();
    if (!take_checkpoint()) return WatchEnd{kFindings, false};
    return WatchEnd{kSuccess, false, restored_events};
  }
  follower.end_all(handler);
  if (inputs.count(kStdin)) hunter->end_input(*inputs.at(kStdin));
  return WatchEnd{kSuccess, true, restored_events};
}

}  // namespace pickaxe::cli
