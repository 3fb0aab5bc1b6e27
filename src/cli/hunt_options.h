// The options of hunt and watch (one command line, two ways of reading), and
// watch's loop.
#pragma once

#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "cli/alert_output.h"
#include "cli/commands.h"
#include "hunt/exceptions.h"
#include "hunt/hunter.h"
#include "util/output.h"

namespace pickaxe::cli {

struct HuntCommandOptions {
  std::vector<std::string> rules;
  std::vector<std::string> files;
  std::string format;  // empty: table on a terminal, ndjson otherwise
  std::vector<std::string> rule_ids;
  std::vector<std::string> tags;
  std::string min_severity;
  std::string detection_time;
  StreamFlags stream;
  size_t threads = std::max(1u, std::thread::hardware_concurrency());
  std::string exceptions;
  std::string sigma_mapping;
  std::vector<std::string> suppress_by;
  std::string suppress_window = "5m";
  bool fail_on_alert = false;
  bool skip_invalid = false;
  std::string max_signals;  // N or "unlimited"; empty: each rule's own
  // hunt: event-time bounds (ISO 8601), the JSON output nested, table colour.
  std::string from, to;
  bool nested = false;
  std::string color = "auto";
  // watch: follow the files instead of reading them once.
  bool watch = false;
  bool from_beginning = false;
  std::string output;     // alerts go here instead of stdout
  std::string state_dir;  // checkpoints go here; empty: none
  bool reset_state = false;
  std::string metrics_address;  // HOST:PORT; empty: no metrics endpoint
  bool metrics_address_given = false;
};

// A hunter with the rules and exceptions it points into.
struct HuntBuild {
  LoadResult loaded;
  ExceptionSet exceptions;
  std::unique_ptr<Hunter> hunter;  // last: it goes before what it points into
};
// Builds a hunter from the rule files as they are now, its fields numbered
// from `base` first (the hunter before a reload, or a checkpoint's); null,
// with the problems printed, when they have errors.
using HuntBuilder = std::function<std::unique_ptr<HuntBuild>(const FieldIndex* base)>;

// One alert as a row of the table, CSV and timeline, and of the summary.
AlertRow alert_row(const Alert& alert);
// The time now as ISO 8601 with milliseconds (UTC): alerts' default @timestamp.
std::string now_iso();
// --exceptions: loaded, with its problems printed; false when they are errors.
bool load_exceptions_or_report(const std::string& path, ExceptionSet& exceptions);

// The options of rule selection and tuning hunt, watch and serve share.
void add_rule_options(CLI::App* command, HuntCommandOptions& options);
// The selection's filters, checked against the loaded rules: a filter that
// selects no rule is reported (naming it), and false returned.
bool check_selection(const std::vector<Rule>& rules, const RuleSelection& selection,
                     std::string_view command);
// --max-signals: nullopt (reported) when it is neither a count nor
// "unlimited"; in `cap`, the count, UINT64_MAX for unlimited, nothing for
// each rule's own.
bool parse_max_signals(const std::string& text, std::optional<uint64_t>& cap);

struct WatchEnd {
  int exit_code = 0;
  // The inputs ended (no checkpoint to resume from): results final only at
  // the end of the input are due (Hunter::finish).
  bool finish = true;
  uint64_t restored_events = 0;  // counted by the runs before (a checkpoint)
};

// Follows the inputs until a stop signal (or the end of stdin), feeding the
// hunter; with a state folder, restores its checkpoint first and takes one
// every few seconds and at the stop. SIGHUP rebuilds the hunter with
// `build` and hands it the old one's state (`current` then holds the new
// one). `output_fd` is the file `out` writes (the alerts' committed length
// is checkpointed when it is a file).
WatchEnd watch_inputs(const HuntCommandOptions& options, std::unique_ptr<HuntBuild>& current,
                      const HuntBuilder& build, Output& out, int output_fd);

}  // namespace pickaxe::cli
