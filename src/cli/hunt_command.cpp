// `pickaxe hunt [--rules PATH...] [FILE...]`: run rules over events, print alerts.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <thread>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/hunt_options.h"
#include "cli/metrics.h"
#include "hunt/hunter.h"
#include "rules/rule_loader.h"
#include "util/output.h"
#include "util/signals.h"

namespace pickaxe::cli {

namespace {

std::string now_iso() {
  auto now = std::chrono::system_clock::now();
  auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  std::time_t seconds = static_cast<std::time_t>(millis / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", utc.tm_year + 1900,
                     utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                     millis % 1000);
}

std::string clip(std::string text, size_t width) {
  if (text.size() <= width) return text;
  return text.substr(0, width - 1) + "~";
}

int run_hunt(const HuntCommandOptions& options) {
  std::vector<std::string> rule_paths =
      options.rules.empty() ? std::vector<std::string>{bundled_pack_dir()} : options.rules;
  std::optional<const sigma::Mapping*> sigma_mapping = load_sigma_mapping(options.sigma_mapping);
  if (!sigma_mapping) return kUsage;
  Schema schema;
  if (!load_mappings(options.stream.mappings, schema)) return kFindings;
  HuntOptions hunt_options;
  hunt_options.selection = {options.rule_ids, options.tags, options.min_severity};
  hunt_options.max_sequence_state = options.stream.max_sequence_state;
  std::optional<StreamOptions> stream_options = stream_options_of(options.stream);
  if (!stream_options) return kUsage;
  hunt_options.stream = *stream_options;
  hunt_options.threads = options.watch ? 1 : options.threads;
  // Watching, an alert is dated when it is raised.
  if (!options.detection_time.empty() && !parse_iso8601(options.detection_time)) {
    std::cerr << fmt::format(
        "pickaxe: --detection-time: '{}' is not an ISO 8601 time (e.g. 2026-01-01T00:00:00Z)\n",
        options.detection_time);
    return kUsage;
  }
  hunt_options.detection_time =
      options.detection_time.empty() && !options.watch ? now_iso() : options.detection_time;
  if (options.watch) {
    if (options.reset_state && options.state_dir.empty()) {
      std::cerr << "pickaxe: --reset-state needs --state-dir\n";
      return kUsage;
    }
    if (!options.metrics_address.empty() || options.metrics_address_given) {
      std::string error;
      if (!MetricsServer::valid_address(options.metrics_address, error)) {
        std::cerr << "pickaxe: " << error << "\n";
        return kUsage;
      }
    }
  }
  // A progress line on a terminal, when reading files.
  uint64_t total_bytes = 0;
  for (const std::string& file : options.files) {
    std::error_code error;
    if (file != "-") total_bytes += std::filesystem::file_size(file, error);
  }
  bool show_progress =
      !options.watch && !options.stream.quiet && isatty(STDERR_FILENO) == 1 && total_bytes > 0;
  if (show_progress) {
    hunt_options.stream.reader.on_progress = [total_bytes](uint64_t bytes) {
      std::cerr << fmt::format("\r  hunting: {:3.0f}%  {:.1f} of {:.1f} MB",
                               100.0 * bytes / total_bytes, bytes / 1e6, total_bytes / 1e6)
                << std::flush;
    };
  }
  hunt_options.suppress_by = options.suppress_by;
  auto window = parse_duration(options.suppress_window);
  if (!window) {
    std::cerr << fmt::format("pickaxe: --suppress-window: '{}' is not a duration\n",
                             options.suppress_window);
    return kUsage;
  }
  hunt_options.suppress_window = *window;

  bool table = !options.watch &&
               (options.format == "table" || (options.format.empty() && stdout_is_terminal()));
  int output_fd = STDOUT_FILENO;
  if (!options.output.empty()) {
    output_fd = ::open(options.output.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (output_fd < 0) {
      std::cerr << fmt::format("pickaxe: --output {}: cannot open: {}\n", options.output,
                               std::strerror(errno));
      return kFindings;
    }
  }
  Output out(output_fd);
  std::vector<Alert> shown;
  auto sink = [&](const Alert& alert) {
    if (table) {
      if (!alert.building_block) shown.push_back(alert);
      return;
    }
    out.record(alert.json + '\n');
  };
  // hunt shows the first 100 input problems; watch every one, as it comes.
  uint64_t reported = 0;
  auto on_problem = [&](const InputProblem& problem) {
    if (!options.stream.quiet && (++reported <= 100 || options.watch))
      std::cerr << describe_problem(problem);
  };
  const char* command = options.watch ? "watch" : "hunt";
  HuntBuilder build = [&](const FieldIndex* base) -> std::unique_ptr<HuntBuild> {
    auto made = std::make_unique<HuntBuild>();
    std::optional<LoadResult> loaded =
        load_rules_or_report(rule_paths, command, options.skip_invalid, *sigma_mapping);
    if (!loaded) return nullptr;
    made->loaded = std::move(*loaded);
    HuntOptions build_options = hunt_options;
    if (!options.exceptions.empty()) {
      Diagnostics exception_diagnostics;
      made->exceptions = load_exceptions(options.exceptions, exception_diagnostics);
      for (const Diagnostic& d : exception_diagnostics.items()) std::cerr << render_text(d);
      if (exception_diagnostics.has_errors()) return nullptr;
      build_options.exceptions = &made->exceptions;
    }
    build_options.base_fields = base;
    Diagnostics compile_diagnostics;
    made->hunter = std::make_unique<Hunter>(made->loaded.rules, schema, build_options, sink,
                                            on_problem, compile_diagnostics);
    for (const Diagnostic& d : compile_diagnostics.items()) std::cerr << render_text(d);
    if (compile_diagnostics.has_errors()) return nullptr;
    return made;
  };
  std::unique_ptr<HuntBuild> current = build(nullptr);
  if (!current) return kFindings;
  Hunter* hunter = current->hunter.get();

  install_stop_signals();
  if (options.watch) install_reload_signal();
  auto started = std::chrono::steady_clock::now();
  bool unreadable = false;
  WatchEnd watched;
  if (options.watch) {
    watched = watch_inputs(options, current, build, out, output_fd);
    hunter = current->hunter.get();
    if (watched.exit_code != kSuccess) {
      leave_to_exit(std::move(current));
      return watched.exit_code;
    }
  } else {
    unreadable = !read_inputs(
        options.files, [&](std::istream& in, const std::string& name) { hunter->read(in, name); },
        [] { return false; }, [&](const std::string& path) { return hunter->read_file(path); },
        [&] {
          hunter->drain();
          out.flush();
        });
  }
  if (watched.finish) hunter->finish();
  if (show_progress) std::cerr << "\r\x1b[K" << std::flush;
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  if (table) {
    out.write(fmt::format("{:<24}  {:<8}  {:<40}  {:<16}  {}\n", "TIME", "SEVERITY", "RULE", "HOST",
                          "MATCH"));
    for (const Alert& alert : shown) {
      out.record(fmt::format("{:<24}  {:<8}  {:<40}  {:<16}  {}\n", clip(alert.time, 24),
                             alert.severity, clip(alert.rule_name, 40), clip(alert.host, 16),
                             clip(alert.summary, 60)));
    }
  }
  out.flush();

  HuntStats stats = hunter->stats();
  if (reported > 100)
    std::cerr << fmt::format("pickaxe: {} more input problems not shown\n", reported - 100);
  if (!options.stream.quiet) {
    std::cerr << fmt::format(
        "{}: {} rules, {} events in {:.2f} s ({:.0f} events/s), {} alerts\n",
        options.watch ? "watch" : "hunt", hunter->rule_count(), stats.stream.events, seconds,
        seconds > 0 ? (stats.stream.events - watched.restored_events) / seconds : 0.0,
        stats.alerts);
    for (const auto& [rule, count] : stats.alerts_by_rule)
      std::cerr << fmt::format("  {:>6}  {}\n", count, rule);
    for (const auto& [item, count] : stats.excepted_by_item)
      std::cerr << fmt::format("  {:>6}  removed by exception \"{}\"\n", count, item);
    for (const auto& [rule, count] : stats.suppressed_by_rule)
      std::cerr << fmt::format("  {:>6}  suppressed for {}\n", count, rule);
    for (const auto& [rule, count] : stats.over_max_signals)
      std::cerr << fmt::format("  {:>6}  past max_signals in their execution for {}\n", count,
                               rule);
    if (stats.stream.rejected() > 0 || stats.stream.late > 0 || stats.state_evictions > 0) {
      std::cerr << fmt::format(
          "  skipped {} malformed, {} without a timestamp, {} with a wrong-typed field; {} late; "
          "{} partial sequences "
          "and samples dropped at --max-sequence-state\n",
          stats.stream.malformed, stats.stream.missing_timestamp, stats.stream.wrong_type,
          stats.stream.late, stats.state_evictions);
    }
    if (std::string notes = describe_source_notes(stats.stream); !notes.empty())
      std::cerr << "  " << notes;
    if (std::string note = hunter->prefilter_note(); !note.empty() && stats.stream.events > 0)
      std::cerr << "  every line parsed (prefilter off): " << note << "\n";
  }
  leave_to_exit(std::move(current));
  if (!finish_output(out, table ? "table rows" : "alerts")) return kFindings;
  if (stop_requested() && options.watch) {
    if (!options.stream.quiet)
      std::cerr << fmt::format("pickaxe: stopped by {}: results flushed\n", stop_signal_name());
    return kSuccess;
  }
  if (stop_requested()) {
    std::cerr << fmt::format("pickaxe: stopped by {}: the input read until then was hunted\n",
                             stop_signal_name());
    return 128 + stop_signal();
  }
  if (unreadable) return kFindings;
  if (options.stream.strict &&
      (stats.stream.rejected() > 0 || stats.stream.late > 0 || stats.state_evictions > 0))
    return kFindings;
  if (options.fail_on_alert && stats.alerts > 0) return kFindings;
  return kSuccess;
}

}  // namespace

void add_rule_options(CLI::App* command, HuntCommandOptions& options) {
  command
      ->add_option(
          "--rules", options.rules,
          "Rule files or directories (.eql, detection-rules .toml, rule pages, Sigma .yml); "
          "repeatable")
      ->allow_extra_args(false);
  command->add_option("--rule-id", options.rule_ids, "Run only this rule (repeatable)")
      ->allow_extra_args(false);
  command
      ->add_option("--tag", options.tags, "Run only rules with this tag (repeatable: any of them)")
      ->allow_extra_args(false);
  command
      ->add_option("--min-severity", options.min_severity,
                   "Run only rules of this severity or higher")
      ->check(CLI::IsMember({"low", "medium", "high", "critical"}));
  add_sigma_mapping_option(*command, options.sigma_mapping);
  command->add_option(
      "--exceptions", options.exceptions,
      "Exception items and value lists (YAML or JSON) that remove known false positives");
  command
      ->add_option("--suppress-by", options.suppress_by,
                   "Suppress alerts of a rule that share this field's values (repeatable)")
      ->allow_extra_args(false);
  command
      ->add_option("--suppress-window", options.suppress_window,
                   "With --suppress-by: how long after a group's first alert others are suppressed")
      ->default_str("5m");
  command->add_flag("--skip-invalid", options.skip_invalid,
                    "Leave out rules with errors (reported) instead of stopping");
}

void add_hunt_command(CLI::App& app, std::function<int()>& run) {
  auto options = std::make_shared<HuntCommandOptions>();
  CLI::App* command = app.add_subcommand("hunt",
                                         "Run detection rules over JSON events (stdin when no FILE "
                                         "or -) and print ECS alert documents. Without --rules "
                                         "it runs the bundled T1204.003 pack. Exits 0 whatever the "
                                         "number of alerts (see --fail-on-alert).");
  add_rule_options(command, *options);
  command->add_option("files", options->files,
                      "Event files, or folders of them (read in path order); - is stdin");
  command
      ->add_option("--format", options->format,
                   "Output: ndjson (default when not a terminal) or table")
      ->check(CLI::IsMember({"ndjson", "table"}));
  command->add_option(
      "--detection-time", options->detection_time,
      "The alerts' @timestamp, ISO 8601 (default: now); fix it for reproducible output");
  command
      ->add_option(
          "--threads", options->threads,
          "Threads that run the rules (default: all cores); the alerts do not depend on it")
      ->check(CLI::Range(1, 256));
  command->add_flag("--fail-on-alert", options->fail_on_alert, "Exit 1 when any alert was raised");
  add_stream_flags(*command, options->stream, "No summary or input problems on stderr");
  command->callback([options, &run] { run = [options] { return run_hunt(*options); }; });
}

void add_watch_command(CLI::App& app, std::function<int()>& run) {
  auto options = std::make_shared<HuntCommandOptions>();
  options->watch = true;
  options->stream.max_lateness = "500ms";
  CLI::App* command = app.add_subcommand(
      "watch",
      "Run detection rules continuously over files as they grow (tail -F: rotation, truncation "
      "and new files are followed), writing each alert as NDJSON within a second. Stops, "
      "flushing every final result, on SIGINT or SIGTERM.");
  add_rule_options(command, *options);
  command->add_option("paths", options->files,
                      "Files, globs or folders to follow (files that appear later too); - is "
                      "stdin, also the default");
  command->add_flag("--from-beginning", options->from_beginning,
                    "Read what the files hold already, not only what is appended");
  command->add_option("--output", options->output,
                      "Append alerts to this file instead of writing them to stdout");
  command->add_option("--state-dir", options->state_dir,
                      "Keep checkpoints here: a restart goes on where the last one left off, "
                      "and --output then holds each alert exactly once");
  command->add_flag("--reset-state", options->reset_state,
                    "With --state-dir: start afresh, forgetting the checkpoint");
  command
      ->add_option("--metrics-addr", options->metrics_address,
                   "Serve Prometheus metrics on http://HOST:PORT/metrics and a health check "
                   "on /healthz (port 0: any free one, said on stderr)")
      ->each([options](const std::string&) { options->metrics_address_given = true; });
  command->add_option("--detection-time", options->detection_time,
                      "The alerts' @timestamp, ISO 8601 (default: when each alert is raised)");
  add_stream_flags(*command, options->stream, "No summary or input problems on stderr");
  command->get_option("--max-lateness")->default_str("500ms");
  command->callback([options, &run] { run = [options] { return run_hunt(*options); }; });
}

}  // namespace pickaxe::cli
