// `pickaxe hunt [--rules PATH...] [FILE...]`: run rules over events, print alerts.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <charconv>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <memory>
#include <thread>

#include <fmt/format.h>

#include "cli/alert_output.h"
#include "cli/commands.h"
#include "cli/config.h"
#include "cli/hunt_options.h"
#include "cli/metrics.h"
#include "hunt/hunter.h"
#include "ingest/compressed.h"
#include "rules/rule_loader.h"
#include "util/output.h"
#include "util/signals.h"

namespace pickaxe::cli {

namespace {

// "1:05" or "1:02:03".
std::string clock_time(double seconds) {
  auto whole = static_cast<uint64_t>(std::max(0.0, seconds));
  if (whole >= 3600)
    return fmt::format("{}:{:02}:{:02}", whole / 3600, whole / 60 % 60, whole % 60);
  return fmt::format("{}:{:02}", whole / 60, whole % 60);
}

std::string rate(double per_second) {
  if (per_second >= 1e6) return fmt::format("{:.1f} M", per_second / 1e6);
  if (per_second >= 1e3) return fmt::format("{:.0f} k", per_second / 1e3);
  return fmt::format("{:.0f} ", per_second);
}

// An ISO 8601 bound of --from or --to, in nanoseconds.
bool parse_time_bound(const std::string& text, const char* option, int64_t& bound,
                      bool end_of_day = false) {
  if (text.empty()) return true;
  if (std::optional<int64_t> time = parse_iso8601(text)) {
    bound = *time;
    // --to 2026-11-01 takes the whole day in.
    if (end_of_day && text.size() == 10) bound += int64_t{86'400'000'000'000} - 1;
    return true;
  }
  std::cerr << fmt::format(
      "pickaxe: {}: '{}' is not an ISO 8601 time (e.g. 2026-01-01T00:00:00Z or 2026-01-01)\n",
      option, text);
  return false;
}

int run_hunt(const HuntCommandOptions& options) {
  std::vector<std::string> rule_paths =
      options.rules.empty() ? runtime_pack_paths() : options.rules;
  std::optional<const sigma::Mapping*> sigma_mapping = load_sigma_mapping(options.sigma_mapping);
  if (!sigma_mapping) return kUsage;
  Schema schema;
  if (!load_mappings(options.stream.mappings, schema)) return kFindings;
  HuntOptions hunt_options;
  hunt_options.selection = {options.rule_ids, options.tags, options.min_severity};
  hunt_options.max_sequence_state = options.stream.max_sequence_state;
  hunt_options.spill_samples = !options.watch;
  if (!parse_max_signals(options.max_signals, hunt_options.max_signals)) return kUsage;
  std::optional<StreamOptions> stream_options = stream_options_of(options.stream);
  if (!stream_options) return kUsage;
  hunt_options.stream = *stream_options;
  if (!parse_time_bound(options.from, "--from", hunt_options.stream.from) ||
      !parse_time_bound(options.to, "--to", hunt_options.stream.to, true))
    return kUsage;
  if (hunt_options.stream.from > hunt_options.stream.to) {
    std::cerr << fmt::format("pickaxe: --from {} is after --to {}\n", options.from, options.to);
    return kUsage;
  }
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
  hunt_options.suppress_by = options.suppress_by;
  auto window = parse_duration(options.suppress_window);
  if (!window) {
    std::cerr << fmt::format("pickaxe: --suppress-window: '{}' is not a duration\n",
                             options.suppress_window);
    return kUsage;
  }
  hunt_options.suppress_window = *window;

  // hunt's output: -o FILE (replaced, once the rules are known good) or
  // stdout; watch appends to --output.
  int output_fd = STDOUT_FILENO;
  if (!options.output.empty()) {
    const int mode = options.watch ? O_APPEND : 0;
    output_fd = ::open(options.output.c_str(), O_WRONLY | O_CREAT | mode | O_CLOEXEC, 0644);
    if (output_fd < 0) {
      std::cerr << fmt::format("pickaxe: --output {}: cannot open: {}\n", options.output,
                               std::strerror(errno));
      return kFindings;
    }
    struct stat output_info {};
    if (::fstat(output_fd, &output_info) == 0 && S_ISREG(output_info.st_mode)) {
      for (const std::string& file : options.files) {
        struct stat input_info {};
        if (file != "-" && ::stat(file.c_str(), &input_info) == 0 &&
            input_info.st_dev == output_info.st_dev && input_info.st_ino == output_info.st_ino) {
          std::cerr << fmt::format(
              "pickaxe: --output {}: it is also an input ({}); write the alerts elsewhere\n",
              options.output, file);
          return kUsage;
        }
      }
    }
  }
  const bool output_is_terminal = isatty(output_fd) == 1;
  AlertWriterOptions writer_options;
  writer_options.format =
      options.format.empty()
          ? (output_is_terminal && !options.watch ? AlertFormat::Table : AlertFormat::Ndjson)
          : *alert_format_from_name(options.format);
  writer_options.nested = options.nested;
  writer_options.color = use_color(options.color, output_fd);
  writer_options.width = terminal_width(output_fd);
  writer_options.flush_rows = output_is_terminal;
  const bool show_summary = !options.stream.quiet;

  // A progress line on a terminal, when reading files. Compressed input
  // expands to a size unknown beforehand: then no share or ETA is shown.
  uint64_t total_bytes = 0;
  bool sized = true;
  for (const std::string& file : options.files) {
    std::error_code error;
    if (file == "-") continue;
    if (std::filesystem::is_directory(file, error)) {
      for (auto it = std::filesystem::recursive_directory_iterator(file, error);
           !error && it != std::filesystem::recursive_directory_iterator(); it.increment(error))
        if (it->is_regular_file(error)) {
          total_bytes += it->file_size(error);
          sized = sized && compression_of_file(it->path().string()) == Compression::None;
        }
      continue;
    }
    total_bytes += std::filesystem::file_size(file, error);
    sized = sized && compression_of_file(file) == Compression::None;
  }
  const bool show_progress =
      !options.watch && !options.stream.quiet && isatty(STDERR_FILENO) == 1 && total_bytes > 0;
  Hunter* hunter = nullptr;
  bool progress_shown = false;
  const auto started = std::chrono::steady_clock::now();
  if (show_progress) {
    hunt_options.stream.reader.on_progress = [&, total_bytes](uint64_t bytes) {
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      if (seconds < 0.5 || !hunter) return;
      const uint64_t events = hunter->stats().stream.events;
      if (!sized) {
        std::cerr << fmt::format("\r\x1b[K  hunting: {:.1f} MB read (decompressed)  {}events/s",
                                 bytes / 1e6, rate(events / seconds))
                  << std::flush;
        progress_shown = true;
        return;
      }
      const double fraction = std::min(1.0, static_cast<double>(bytes) / total_bytes);
      const double left = fraction > 0 ? seconds * (1 - fraction) / fraction : 0;
      std::cerr << fmt::format(
                       "\r\x1b[K  hunting: {:3.0f}%  {:.1f} of {:.1f} MB  {}events/s  ETA {}",
                       100.0 * fraction, bytes / 1e6, total_bytes / 1e6, rate(events / seconds),
                       clock_time(left))
                << std::flush;
      progress_shown = true;
    };
  }

  Output out(output_fd);
  std::unique_ptr<AlertWriter> writer;
  ResultsSummary summary;
  auto sink = [&](const Alert& alert) {
    AlertRow row = alert_row(alert);
    if (!alert.building_block) summary.add(row);
    // A table row on the terminal: the progress line makes way.
    if (progress_shown && writer->table() && writer_options.flush_rows) {
      std::cerr << "\r\x1b[K" << std::flush;
      progress_shown = false;
    }
    writer->write(row, alert.json, alert.building_block);
  };
  // hunt shows the first 100 input problems; watch every one, as it comes.
  uint64_t reported = 0;
  auto on_problem = [&](const InputProblem& problem) {
    if (!options.stream.quiet && (++reported <= 100 || options.watch)) {
      if (progress_shown) std::cerr << "\r\x1b[K";
      progress_shown = false;
      std::cerr << describe_problem(problem);
    }
  };
  const char* command = options.watch ? "watch" : "hunt";
  HuntBuilder build = [&](const FieldIndex* base) -> std::unique_ptr<HuntBuild> {
    auto made = std::make_unique<HuntBuild>();
    std::optional<LoadResult> loaded = load_rules_or_report(
        rule_paths, command, options.skip_invalid, *sigma_mapping, hunt_options.threads);
    if (!loaded) return nullptr;
    made->loaded = std::move(*loaded);
    HuntOptions build_options = hunt_options;
    if (!options.exceptions.empty()) {
      if (!load_exceptions_or_report(options.exceptions, made->exceptions)) return nullptr;
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
  // Before the rules compile (long for a large set): a stop in the meantime
  // is a stop like any other, said and exiting 0, not a kill.
  install_stop_signals();
  if (options.watch) install_reload_signal();
  std::unique_ptr<HuntBuild> current = build(nullptr);
  if (!current) return kFindings;
  if (!check_selection(current->loaded.rules, hunt_options.selection, command)) {
    leave_to_exit(std::move(current));
    return kUsage;
  }
  // A regular file is replaced; a device or FIFO (/dev/null, a pipe) is written as it is.
  struct stat output_kind {};
  if (!options.watch && output_fd != STDOUT_FILENO && ::fstat(output_fd, &output_kind) == 0 &&
      S_ISREG(output_kind.st_mode) && ::ftruncate(output_fd, 0) != 0) {
    std::cerr << fmt::format("pickaxe: --output {}: cannot empty it: {}\n", options.output,
                             std::strerror(errno));
    leave_to_exit(std::move(current));
    return kFindings;
  }
  hunter = current->hunter.get();
  for (const Rule& rule : current->loaded.rules)
    if (rule.loaded() && hunt_options.selection.selects(rule))
      writer_options.longest_rule = std::max(writer_options.longest_rule, rule.name.size());
  writer = std::make_unique<AlertWriter>(out, writer_options);
  writer->begin();

  bool unreadable = false;
  WatchEnd watched;
  // Files that yielded no event at all (hunt): named at the end.
  std::vector<std::string> empty_inputs;
  auto count_events = [&](const std::string& name, const std::function<void()>& read) {
    const uint64_t before = hunter->stats().stream.arrived();
    read();
    if (hunter->stats().stream.arrived() == before && !stop_requested())
      empty_inputs.push_back(name);
  };
  if (options.watch) {
    watched = watch_inputs(options, current, build, out, output_fd);
    hunter = current->hunter.get();
    if (watched.exit_code != kSuccess) {
      leave_to_exit(std::move(current));
      return watched.exit_code;
    }
  } else {
    unreadable = !read_inputs(
        options.files,
        [&](std::istream& in, const std::string& name) {
          count_events(name, [&] { hunter->read(in, name); });
        },
        [] { return false; },
        [&](const std::string& path) {
          bool taken = false;
          count_events(path, [&] { taken = hunter->read_file(path); });
          if (!taken)
            empty_inputs.erase(std::remove(empty_inputs.begin(), empty_inputs.end(), path),
                               empty_inputs.end());
          return taken;
        },
        [&] {
          hunter->drain();
          out.flush();
        });
  }
  if (watched.finish) hunter->finish();
  if (progress_shown) std::cerr << "\r\x1b[K" << std::flush;
  hunter->drain();
  writer->end();
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  HuntStats stats = hunter->stats();
  if (reported > 100)
    std::cerr << fmt::format("pickaxe: {} more input problems not shown\n", reported - 100);
  const bool empty_failed = report_empty_inputs(empty_inputs, options.stream.allow_empty);
  if (show_summary) {
    std::cerr << fmt::format(
        "{}: {} rules, {} events in {:.2f} s ({:.0f} events/s), {} alerts\n",
        options.watch ? "watch" : "hunt", hunter->rule_count(), stats.stream.events, seconds,
        seconds > 0 ? (stats.stream.events - watched.restored_events) / seconds : 0.0,
        stats.alerts);
    for (const auto& [rule, count] : stats.alerts_by_rule)
      std::cerr << fmt::format("  {:>6}  {}\n", count, rule);
    std::cerr << summary.text();
    for (const auto& [item, count] : stats.excepted_by_item)
      std::cerr << fmt::format("  {:>6}  removed by exception \"{}\"\n", count, item);
    for (const auto& [rule, count] : stats.suppressed_by_rule)
      std::cerr << fmt::format("  {:>6}  suppressed for {}\n", count, rule);
    for (const auto& [rule, count] : stats.over_max_signals)
      std::cerr << fmt::format(
          "  {:>6}  past max_signals in their execution for {} (--max-signals raises it)\n", count,
          rule);
    if (stats.stream.outside_range > 0)
      std::cerr << fmt::format("  {:>6}  events outside --from/--to passed over\n",
                               stats.stream.outside_range);
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
    if (std::string notes = describe_sample_disk(stats.sample_disk); !notes.empty())
      std::cerr << "  " << notes;
    if (std::string note = hunter->prefilter_note(); !note.empty() && stats.stream.events > 0)
      std::cerr << "  every line parsed (prefilter off): " << note << "\n";
  }
  leave_to_exit(std::move(current));
  if (!finish_output(out, writer->table() ? "table rows" : "alerts")) return kFindings;
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
  if (empty_failed) return kFindings;
  if (options.stream.strict &&
      (stats.stream.rejected() > 0 || stats.stream.late > 0 || stats.state_evictions > 0))
    return kFindings;
  if (options.fail_on_alert && stats.alerts > 0) return kAlerts;
  return kSuccess;
}

}  // namespace

AlertRow alert_row(const Alert& alert) {
  AlertRow row;
  row.time = alert.time;
  row.severity = alert.severity;
  row.rule = alert.rule_name;
  row.host = alert.host;
  row.match = alert.summary;
  row.reason = alert.reason;
  row.uuid = alert.uuid;
  if (alert.rule) {
    row.rule_id = alert.rule->rule_id;
    row.risk_score = alert.rule->risk_score;
    row.techniques = fmt::format("{}", fmt::join(technique_ids(*alert.rule), ";"));
  }
  return row;
}

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

bool load_exceptions_or_report(const std::string& path, ExceptionSet& exceptions) {
  Diagnostics diagnostics;
  exceptions = load_exceptions(path, diagnostics);
  for (const Diagnostic& d : diagnostics.items()) std::cerr << render_text(d);
  return !diagnostics.has_errors();
}

bool parse_max_signals(const std::string& text, std::optional<uint64_t>& cap) {
  cap.reset();
  if (text.empty()) return true;
  if (text == "unlimited") {
    cap = std::numeric_limits<uint64_t>::max();
    return true;
  }
  uint64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error == std::errc() && end == text.data() + text.size() && value > 0) {
    cap = value;
    return true;
  }
  std::cerr << fmt::format(
      "pickaxe: --max-signals: '{}' is neither a positive count nor "
      "'unlimited'{}\n",
      text, nearest(text, {"unlimited"}).empty() ? "" : "; did you mean 'unlimited'?");
  return false;
}

bool check_selection(const std::vector<Rule>& rules, const RuleSelection& selection,
                     std::string_view command) {
  std::vector<std::string> unmatched;
  for (const std::string& id : selection.rule_ids)
    if (std::none_of(rules.begin(), rules.end(),
                     [&](const Rule& rule) { return rule.rule_id == id; }))
      unmatched.push_back(fmt::format("--rule-id {}: no rule has this id", id));
  for (const std::string& tag : selection.tags)
    if (std::none_of(rules.begin(), rules.end(), [&](const Rule& rule) {
          return std::find(rule.tags.begin(), rule.tags.end(), tag) != rule.tags.end();
        }))
      unmatched.push_back(fmt::format("--tag {}: no rule has this tag", tag));
  const bool any = std::any_of(rules.begin(), rules.end(), [&](const Rule& rule) {
    return rule.loaded() && selection.selects(rule);
  });
  if (unmatched.empty() && any) return true;
  for (const std::string& line : unmatched)
    std::cerr << fmt::format("pickaxe: {}: {}\n", command, line);
  if (unmatched.empty()) {
    std::vector<std::string> filters;
    if (!selection.rule_ids.empty()) filters.push_back("--rule-id");
    if (!selection.tags.empty()) filters.push_back("--tag");
    if (!selection.min_severity.empty())
      filters.push_back("--min-severity " + selection.min_severity);
    std::cerr << fmt::format("pickaxe: {}: no rule is selected by {}\n", command,
                             fmt::join(filters, " and "));
  }
  std::cerr << fmt::format(
      "pickaxe: {}: `pickaxe rules`{} lists the rules with their ids, tags "
      "and severities\n",
      command, command == "rules" ? " without filters" : "");
  return false;
}

void add_rule_options(CLI::App* command, HuntCommandOptions& options) {
  command
      ->add_option(
          "-r,--rules", options.rules,
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
  command->add_option("--max-signals", options.max_signals,
                      "Alerts per rule execution (interval) for every rule, in place of each "
                      "rule's max_signals (default 100, as Kibana): a count, or unlimited");
}

void add_hunt_command(CLI::App& app, std::function<int()>& run) {
  auto options = std::make_shared<HuntCommandOptions>();
  CLI::App* command = app.add_subcommand("hunt",
                                         "Run detection rules over JSON events (stdin when no FILE "
                                         "or -) and print ECS alert documents. Without --rules "
                                         "it runs the bundled T1204.003 pack. Exit codes: 0 done, "
                                         "1 errors in rules or input, 2 usage, 3 alerts raised "
                                         "with --fail-on-alert.");
  add_rule_options(command, *options);
  command->add_option("files", options->files,
                      "Event files (NDJSON, JSON arrays, CloudTrail, auditd, Sysmon syslog, "
                      "Docker events; .gz and .zst too), or folders of them (read in path order, "
                      "documents and rule files passed over); - is stdin");
  command
      ->add_option("--format", options->format,
                   "Output: ndjson (default when not a terminal), json (one array), csv, "
                   "timeline (Hayabusa-style CSV: time, host, severity, rule, details) or table "
                   "(default on a terminal)")
      ->check(CLI::IsMember(kAlertFormatNames));
  command->add_option("-o,--output", options->output,
                      "Write the alerts to this file (replaced) instead of stdout");
  command->add_flag("--nested", options->nested,
                    "JSON output with nested objects (jq .kibana.alert.rule.name) instead of "
                    "Elastic's dotted keys");
  command->add_option("--color", options->color, "Colour severities in the table")
      ->check(CLI::IsMember({"auto", "always", "never"}))
      ->default_str("auto");
  command->add_option("--from", options->from,
                      "Only events at or after this time (ISO 8601: 2026-01-01 or "
                      "2026-01-01T10:00:00Z)");
  command->add_option("--to", options->to, "Only events at or before this time (ISO 8601)");
  command->add_option(
      "--detection-time", options->detection_time,
      "The alerts' @timestamp, ISO 8601 (default: now); fix it for reproducible output");
  command
      ->add_option(
          "--threads", options->threads,
          "Threads that load and run the rules (default: all cores); the alerts do not depend "
          "on it")
      ->check(CLI::Range(1, 256));
  command->add_flag("--fail-on-alert", options->fail_on_alert,
                    "Exit 3 when any alert was raised (1 stays for errors)");
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
  command->add_option("-o,--output", options->output,
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
  command->remove_option(command->get_option("--allow-empty"));  // files to follow may be empty
  command->get_option("--max-lateness")->default_str("500ms");
  command->callback([options, &run] { run = [options] { return run_hunt(*options); }; });
}

}  // namespace pickaxe::cli
