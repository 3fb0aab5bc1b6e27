// `pickaxe scan IMAGE...`: container images, read offline, become ECS events
// (docs/SCAN.md) that the scan rule pack runs over, as hunt runs rules.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <sstream>

#include <fmt/format.h>
#include <simdjson.h>

#include "cli/alert_output.h"
#include "cli/commands.h"
#include "cli/config.h"
#include "cli/hunt_options.h"
#include "event/patterns.h"
#include "hunt/hunter.h"
#include "scan/events.h"
#include "scan/image.h"
#include "scan/sarif.h"
#include "scan/yara_set.h"
#include "util/output.h"
#include "util/signals.h"

namespace pickaxe::cli {

namespace {

struct ScanCommandOptions {
  HuntCommandOptions hunt;  // rules, selection, tuning, --detection-time, -q
  std::vector<std::string> images;
  std::string platform;
  std::vector<std::string> yara;
  bool no_yara = false;
  std::string yara_max_size = "32M";
  int yara_timeout = 10;
  std::string max_unpacked = "64G";
  std::string sarif;
  std::string events;
};

// "32M", "1G", "512k", "4096" (binary units; a trailing B or iB is allowed).
std::optional<uint64_t> parse_size(std::string text) {
  if (text.ends_with("iB") || text.ends_with("ib"))
    text.resize(text.size() - 2);
  else if (text.size() > 1 && (text.back() == 'B' || text.back() == 'b'))
    text.pop_back();
  uint64_t unit = 1;
  if (!text.empty()) switch (text.back()) {
      case 'k':
      case 'K': unit = uint64_t{1} << 10; break;
      case 'm':
      case 'M': unit = uint64_t{1} << 20; break;
      case 'g':
      case 'G': unit = uint64_t{1} << 30; break;
      case 't':
      case 'T': unit = uint64_t{1} << 40; break;
      default: break;
    }
  if (unit != 1) text.pop_back();
  uint64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  if (value > UINT64_MAX / unit) return std::nullopt;
  return value * unit;
}

// os/arch[/variant], as OCI platforms are written: lower case.
bool valid_platform(const std::string& platform) {
  size_t parts = 1;
  for (char c : platform) {
    if (c == '/') {
      ++parts;
      continue;
    }
    if (!std::islower(static_cast<unsigned char>(c)) &&
        !std::isdigit(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.')
      return false;
  }
  return (parts == 2 || parts == 3) && platform.front() != '/' && platform.back() != '/' &&
         platform.find("//") == std::string::npos;
}

// Whether a rule can see scan events (index logs-pickaxe.scan-default).
bool reads_scan_events(const Rule& rule) {
  if (rule.index.empty()) return true;
  return std::any_of(rule.index.begin(), rule.index.end(), [](const std::string& pattern) {
    return wildcard_match("logs-pickaxe.scan-default", pattern, false);
  });
}

// One row of the summary table: one image (one platform of an input).
struct ImageSummary {
  std::string input, reference, platform;
  size_t layers = 0;
  uint64_t files = 0;
  uint64_t alerts = 0;
  std::string worst;  // severity
  bool problems = false;
};

// The output files (--output, --sarif, --events), opened once the rules are
// good. A regular file is replaced, but first refused when it is another
// output, an image, stdin's file, or a file inside an image folder: a typo
// must not destroy the image it meant to scan. kSuccess, or the exit code.
struct OutputFile {
  const std::string* path;
  const char* option;
  int* fd;
};
int open_outputs(const std::vector<OutputFile>& outputs, const std::vector<std::string>& images) {
  auto same = [](const struct stat& a, const struct stat& b) {
    return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
  };
  std::vector<std::pair<const OutputFile*, struct stat>> regular;
  for (const OutputFile& output : outputs) {
    if (output.path->empty()) continue;
    *output.fd = ::open(output.path->c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (*output.fd < 0) {
      std::cerr << fmt::format("pickaxe: {} {}: cannot open: {}\n", output.option,
                               printable(*output.path), std::strerror(errno));
      return kFindings;
    }
    struct stat info {};
    if (::fstat(*output.fd, &info) == 0 && S_ISREG(info.st_mode))
      regular.push_back({&output, info});
  }
  for (size_t i = 0; i < regular.size(); ++i) {
    const auto& [output, info] = regular[i];
    const std::string path = printable(*output->path);
    for (size_t j = 0; j < i; ++j)
      if (same(regular[j].second, info)) {
        std::cerr << fmt::format("pickaxe: {} {}: it is also {}'s file; write elsewhere\n",
                                 output->option, path, regular[j].first->option);
        return kUsage;
      }
    std::error_code error;
    const std::string canonical = std::filesystem::weakly_canonical(*output->path, error).string();
    for (const std::string& image : images) {
      struct stat input {};
      const bool is_input =
          image == "-"
              ? ::fstat(STDIN_FILENO, &input) == 0 && same(input, info)
              : ::stat(image.c_str(), &input) == 0 &&
                    (same(input, info) ||
                     (S_ISDIR(input.st_mode) && !error &&
                      canonical.starts_with(
                          std::filesystem::weakly_canonical(image, error).string() + "/")));
      if (is_input) {
        std::cerr << fmt::format(
            "pickaxe: {} {}: it is {} an image to scan ({}); write elsewhere\n", output->option,
            path, image == "-" || !S_ISDIR(input.st_mode) ? "also" : "inside",
            image == "-" ? "stdin" : printable(image));
        return kUsage;
      }
    }
  }
  for (const auto& [output, info] : regular)
    if (::ftruncate(*output->fd, 0) != 0) {
      std::cerr << fmt::format("pickaxe: {} {}: cannot empty it: {}\n", output->option,
                               printable(*output->path), std::strerror(errno));
      return kFindings;
    }
  return kSuccess;
}

std::string image_table(const std::vector<ImageSummary>& rows) {
  size_t image_width = 5, platform_width = 8;
  for (const ImageSummary& row : rows) {
    image_width = std::max(image_width, row.reference.size());
    platform_width = std::max(platform_width, row.platform.size());
  }
  image_width = std::min<size_t>(image_width, 60);
  std::string text = fmt::format("{:<{}}  {:<{}}  {:>6}  {:>7}  {:>6}  {}\n", "IMAGE", image_width,
                                 "PLATFORM", platform_width, "LAYERS", "FILES", "ALERTS", "WORST");
  for (const ImageSummary& row : rows)
    text += fmt::format("{:<{}}  {:<{}}  {:>6}  {:>7}  {:>6}  {}{}\n",
                        clip(printable(row.reference), image_width), image_width,
                        printable(row.platform), platform_width, row.layers, row.files, row.alerts,
                        row.worst.empty() ? "-" : row.worst,
                        row.problems ? "  (image has problems: see above)" : "");
  return text;
}

int run_scan(const ScanCommandOptions& options) {
  const HuntCommandOptions& hunt = options.hunt;
  const bool quiet = hunt.stream.quiet;
  scan::ScanLimits limits;
  std::optional<uint64_t> yara_max = parse_size(options.yara_max_size);
  std::optional<uint64_t> max_unpacked = parse_size(options.max_unpacked);
  if (!yara_max || !max_unpacked) {
    std::cerr << fmt::format("pickaxe: {}: '{}' is not a size (e.g. 512K, 32M, 64G)\n",
                             yara_max ? "--max-unpacked" : "--yara-max-size",
                             yara_max ? options.max_unpacked : options.yara_max_size);
    return kUsage;
  }
  if (*max_unpacked == 0) {
    std::cerr << "pickaxe: --max-unpacked: 0 reads nothing; give a size such as 64G\n";
    return kUsage;
  }
  if (!options.platform.empty() && !valid_platform(options.platform)) {
    std::cerr << fmt::format(
        "pickaxe: --platform: '{}' is not os/arch[/variant] in lower case (e.g. linux/amd64, "
        "linux/arm64/v8)\n",
        printable(options.platform));
    return kUsage;
  }
  const std::optional<int64_t> suppress_window = parse_duration(hunt.suppress_window);
  if (!suppress_window) {
    std::cerr << fmt::format("pickaxe: --suppress-window: '{}' is not a duration\n",
                             hunt.suppress_window);
    return kUsage;
  }
  limits.yara_max_size = *yara_max;
  limits.max_unpacked = *max_unpacked;
  limits.yara_timeout_seconds = options.yara_timeout;
  if (!hunt.detection_time.empty() && !parse_iso8601(hunt.detection_time)) {
    std::cerr << fmt::format(
        "pickaxe: --detection-time: '{}' is not an ISO 8601 time (e.g. 2026-01-01T00:00:00Z)\n",
        hunt.detection_time);
    return kUsage;
  }
  const std::string scan_time = hunt.detection_time.empty() ? now_iso() : hunt.detection_time;
  if (std::count(options.images.begin(), options.images.end(), "-") > 1) {
    std::cerr << "pickaxe: scan: stdin (-) can be read once only\n";
    return kUsage;
  }

  // YARA: the bundled miner set unless --yara names others or --no-yara.
  std::unique_ptr<scan::YaraSet> yara;
  if (!options.no_yara) {
    std::vector<std::string> paths = options.yara;
    if (paths.empty()) paths.push_back(bundled_pack_dir() + "/scan/yara");
    std::vector<std::string> problems;
    yara = scan::YaraSet::compile(paths, problems);
    for (const std::string& problem : problems) std::cerr << "pickaxe: yara: " << problem << "\n";
    if (!yara) {
      std::cerr << "pickaxe: scan: the YARA rules have errors (--no-yara scans without them)\n";
      return kFindings;
    }
    limits.yara = yara.get();
  }

  // Rules: the bundled scan pack by default.
  std::vector<std::string> rule_paths =
      hunt.rules.empty() ? std::vector<std::string>{bundled_pack_dir() + "/scan"} : hunt.rules;
  std::optional<const sigma::Mapping*> sigma_mapping = load_sigma_mapping(hunt.sigma_mapping);
  if (!sigma_mapping) return kUsage;
  std::optional<LoadResult> loaded =
      load_rules_or_report(rule_paths, "scan", hunt.skip_invalid, *sigma_mapping);
  if (!loaded) return kFindings;
  HuntOptions hunt_options;
  hunt_options.selection = {hunt.rule_ids, hunt.tags, hunt.min_severity};
  if (!parse_max_signals(hunt.max_signals, hunt_options.max_signals)) return kUsage;
  std::optional<StreamOptions> stream_options = stream_options_of(hunt.stream);
  if (!stream_options) return kUsage;
  hunt_options.stream = *stream_options;
  hunt_options.threads = 1;
  hunt_options.detection_time = scan_time;
  hunt_options.suppress_by = hunt.suppress_by;
  hunt_options.suppress_window = *suppress_window;
  ExceptionSet exceptions;
  if (!hunt.exceptions.empty()) {
    if (!load_exceptions_or_report(hunt.exceptions, exceptions)) return kFindings;
    hunt_options.exceptions = &exceptions;
  }
  if (!check_selection(loaded->rules, hunt_options.selection, "scan")) return kUsage;
  // Rules meant for telemetry (e.g. a top-level `rules` in pickaxe.toml) would
  // pass every image: say so rather than gate on them.
  size_t selected = 0, reading = 0;
  for (const Rule& rule : loaded->rules)
    if (rule.loaded() && hunt_options.selection.selects(rule)) {
      ++selected;
      reading += reads_scan_events(rule);
    }
  if (reading == 0) {
    std::cerr << fmt::format(
        "pickaxe: scan: none of the {} selected rules reads scan events (index "
        "logs-pickaxe.scan-*), so no image could raise an alert\n"
        "  = hint: drop --rules (or a `rules` key of pickaxe.toml: put it under [hunt]) to run "
        "the bundled scan rules, or give rules whose index is logs-pickaxe.scan-*\n",
        selected);
    return kUsage;
  }

  // Outputs, opened once the rules are good.
  int output_fd = STDOUT_FILENO, sarif_fd = -1, events_fd = -1;
  if (int code = open_outputs({{&hunt.output, "--output", &output_fd},
                               {&options.sarif, "--sarif", &sarif_fd},
                               {&options.events, "--events", &events_fd}},
                              options.images);
      code != kSuccess)
    return code;
  const bool output_is_terminal = isatty(output_fd) == 1;
  AlertWriterOptions writer_options;
  writer_options.format = hunt.format.empty()
                              ? (output_is_terminal ? AlertFormat::Table : AlertFormat::Ndjson)
                              : *alert_format_from_name(hunt.format);
  writer_options.nested = hunt.nested;
  writer_options.color = use_color(hunt.color, output_fd);
  writer_options.width = terminal_width(output_fd);
  writer_options.flush_rows = output_is_terminal;
  writer_options.host_label = "IMAGE";
  for (const Rule& rule : loaded->rules)
    if (rule.loaded() && hunt_options.selection.selects(rule))
      writer_options.longest_rule = std::max(writer_options.longest_rule, rule.name.size());
  Output out(output_fd);
  Output events_out(events_fd);
  AlertWriter writer(out, writer_options);

  std::vector<ImageSummary> summaries;
  std::vector<scan::Finding> findings;
  std::vector<std::string> problems;  // every image's, for SARIF
  ResultsSummary results;
  simdjson::dom::parser alert_parser;
  auto sink = [&](const Alert& alert) {
    AlertRow row = alert_row(alert);
    // Which image: the alert carries its event's pickaxe.scan facts.
    std::string input, reference, platform, path;
    simdjson::dom::element document;
    if (alert_parser.parse(alert.json).get(document) == simdjson::SUCCESS) {
      auto text = [&](const char* pointer) {
        std::string_view value;
        return document.at_pointer(pointer).get(value) == simdjson::SUCCESS ? std::string(value)
                                                                            : "";
      };
      input = text("/pickaxe/scan/input");
      reference = text("/pickaxe/scan/image/reference");
      platform = text("/pickaxe/scan/image/platform");
      path = text("/file/path");
    }
    row.host = reference;
    if (!alert.building_block) {
      results.add(row);
      for (ImageSummary& summary : summaries)
        if (summary.input == input && summary.reference == reference &&
            summary.platform == platform) {
          ++summary.alerts;
          if (severity_rank(alert.severity) > severity_rank(summary.worst))
            summary.worst = alert.severity;
        }
      scan::Finding finding;
      if (alert.rule) {
        finding.rule_id = alert.rule->rule_id;
        finding.rule_description = alert.rule->description;
        finding.risk_score = static_cast<int>(alert.rule->risk_score);
      }
      finding.rule_name = alert.rule_name;
      finding.severity = alert.severity;
      finding.input = input;
      finding.image = reference;
      finding.platform = platform;
      finding.path = path;
      finding.message = alert.reason;
      finding.match = alert.summary;
      finding.alert_uuid = alert.uuid;
      findings.push_back(std::move(finding));
    }
    writer.write(row, alert.json, alert.building_block);
  };
  auto on_problem = [&](const InputProblem& problem) { std::cerr << describe_problem(problem); };
  Diagnostics compile_diagnostics;
  static const Schema schema;  // the hunter keeps a reference to it
  auto hunter = std::make_unique<Hunter>(loaded->rules, schema, hunt_options, sink, on_problem,
                                         compile_diagnostics);
  for (const Diagnostic& d : compile_diagnostics.items()) std::cerr << render_text(d);
  if (compile_diagnostics.has_errors()) {
    leave_to_exit(std::move(hunter));
    return kFindings;
  }
  writer.begin();
  install_stop_signals();

  const auto started = std::chrono::steady_clock::now();
  bool image_problems = false;
  scan::ScanStats totals;
  scan::EventContext context;
  context.timestamp = scan_time;
  context.yara = yara.get();
  for (const std::string& name : options.images) {
    if (stop_requested()) break;
    if (name == "-" && isatty(STDIN_FILENO) == 1 && !quiet)
      std::cerr << "pickaxe: reading an image tarball from the terminal (stdin): pipe one in, "
                   "e.g. docker save IMAGE | pickaxe scan -\n";
    scan::ImageInput input = scan::read_image_input(name, limits);
    if (input.stopped || stop_requested()) {
      std::cerr << fmt::format(
          "pickaxe: {}: stopped before the image was read whole: not scanned\n", printable(name));
      problems.push_back(fmt::format("{}: stopped by {} before it was read whole: not scanned",
                                     name, stop_signal_name()));
      break;
    }
    scan::resolve_images(input, options.platform);
    for (const std::string& problem : input.problems) {
      std::cerr << fmt::format("pickaxe: {}: {}\n", printable(name), printable(problem));
      problems.push_back(fmt::format("{}: {}", name, problem));
    }
    if (!input.problems.empty()) image_problems = true;
    if (input.images.empty() && input.problems.empty()) {
      std::cerr << fmt::format(
          "pickaxe: {}: no image{}\n", printable(name),
          options.platform.empty()
              ? ""
              : fmt::format(" for --platform {} (it holds {})", options.platform,
                            fmt::join(input.platforms_passed_over, ", ")));
      image_problems = true;
      problems.push_back(fmt::format("{}: no image", name));
    }
    totals += input.stats;
    context.input = name;
    for (const scan::Image& image : input.images) {
      ImageSummary summary;
      summary.input = name;
      summary.reference = image.reference;
      summary.platform = image.platform;
      summary.layers = image.layers.size();
      summary.problems = !input.problems.empty();
      summaries.push_back(summary);
      scan::ImageCounts counts =
          scan::write_image_events(image, context, [&](std::string_view text) {
            if (events_fd >= 0)
              for (size_t at = 0; at < text.size();) {
                const size_t end = text.find('\n', at) + 1;
                events_out.record(text.substr(at, end - at));
                at = end;
              }
            std::istringstream in{std::string(text)};
            hunter->read(in, name);
          });
      summaries.back().files = counts.files;
    }
  }
  hunter->finish();
  hunter->drain();
  writer.end();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  HuntStats stats = hunter->stats();
  leave_to_exit(std::move(hunter));

  bool written = true;
  if (sarif_fd >= 0) {
    Output sarif_out(sarif_fd);
    sarif_out.record(scan::sarif_log(findings, problems, PICKAXE_VERSION));
    written =
        finish_output(sarif_out, fmt::format("SARIF logs (--sarif {})", options.sarif)) && written;
  }
  if (events_fd >= 0)
    written = finish_output(events_out, fmt::format("scan events (--events {})", options.events)) &&
              written;

  if (!quiet) {
    std::cerr << fmt::format(
        "scan: {} image{}, {} files and links read, {:.1f} MB unpacked and hashed in {:.2f} s; {} "
        "rules, {} alerts\n",
        summaries.size(), summaries.size() == 1 ? "" : "s", totals.files,
        totals.unpacked_bytes / 1e6, seconds, selected, stats.alerts);
    if (yara)
      std::cerr << fmt::format(
          "  YARA: {} rules over {} files; {} over --yara-max-size not matched{}\n",
          yara->rule_count(), totals.yara_scanned, totals.yara_too_large,
          totals.yara_timeouts > 0
              ? fmt::format("; {} timed out (--yara-timeout)", totals.yara_timeouts)
              : "");
    for (const auto& [rule, count] : stats.alerts_by_rule)
      std::cerr << fmt::format("  {:>6}  {}\n", count, rule);
    for (const auto& [item, count] : stats.excepted_by_item)
      std::cerr << fmt::format("  {:>6}  removed by exception \"{}\"\n", count, item);
    if (!summaries.empty()) std::cerr << "\n" << image_table(summaries);
  }
  if (!finish_output(out, writer.table() ? "table rows" : "alerts")) written = false;
  if (stop_requested()) {
    std::cerr << fmt::format("pickaxe: stopped by {}: the images read until then were scanned\n",
                             stop_signal_name());
    return 128 + stop_signal();
  }
  if (!written || image_problems) return kFindings;
  if (hunt.fail_on_alert && stats.alerts > 0) return kAlerts;
  return kSuccess;
}

}  // namespace

void add_scan_command(CLI::App& app, std::function<int()>& run) {
  auto options = std::make_shared<ScanCommandOptions>();
  CLI::App* command = app.add_subcommand(
      "scan",
      "Scan container images offline (docker save / podman save tarballs, OCI layouts or their "
      "tarballs; - is stdin) before they run: their config, history and every file become ECS "
      "events (docs/SCAN.md) that the bundled scan rules and YARA rules run over. Exit codes: "
      "0 done, 1 an image or rule had errors, 2 usage, 3 alerts raised with --fail-on-alert.");
  add_rule_options(command, options->hunt);
  command->get_option("--rules")->description(
      "Rule files or directories over the scan events (default: the bundled "
      "rules/t1204_003/scan pack); repeatable");
  command
      ->add_option("images", options->images,
                   "Images: tarballs (plain, .gz, .zst), OCI "
                   "layout folders, or - for stdin")
      ->required();
  command->add_option("--platform", options->platform,
                      "Scan only this platform of a multi-platform image (os/arch[/variant], "
                      "e.g. linux/arm64); default: every platform");
  command
      ->add_option("--yara", options->yara,
                   "YARA rule files or folders (.yar, .yara) run over each file's content "
                   "(default: the bundled Linux miner set); repeatable")
      ->allow_extra_args(false);
  command->add_flag("--no-yara", options->no_yara, "Match no file content with YARA")
      ->excludes("--yara");
  command
      ->add_option("--yara-max-size", options->yara_max_size,
                   "Larger files are hashed but not YARA-matched")
      ->default_str("32M");
  command->add_option("--yara-timeout", options->yara_timeout, "Seconds YARA may spend on one file")
      ->check(CLI::Range(1, 3600))
      ->default_str("10");
  command
      ->add_option("--max-unpacked", options->max_unpacked,
                   "Stop reading an image that expands past this (a decompression bomb)")
      ->default_str("64G");
  command
      ->add_option("--format", options->hunt.format,
                   "Alerts as ndjson (default when not a terminal) or table (default on a "
                   "terminal)")
      ->check(CLI::IsMember({"ndjson", "table"}));
  command->add_option("-o,--output", options->hunt.output,
                      "Write the alerts to this file (replaced) instead of stdout");
  command->add_option("--sarif", options->sarif, "Also write the findings as SARIF 2.1.0 here");
  command->add_option("--events", options->events,
                      "Also write every scan event (NDJSON) here, to hunt over later");
  command->add_option("--color", options->hunt.color, "Colour severities in the table")
      ->check(CLI::IsMember({"auto", "always", "never"}))
      ->default_str("auto");
  command->add_option(
      "--detection-time", options->hunt.detection_time,
      "The events' and alerts' @timestamp, ISO 8601 (default: now); fix it for reproducible "
      "output");
  command->add_flag("--fail-on-alert", options->hunt.fail_on_alert,
                    "Exit 3 when any alert was raised (1 stays for errors): a CI gate");
  command->add_flag("-q,--quiet", options->hunt.stream.quiet, "No summary on stderr");
  command->callback([options, &run] { run = [options] { return run_scan(*options); }; });
}

}  // namespace pickaxe::cli
