// pickaxe's subcommands. Each registers its options on the CLI11 app and
// returns the process exit code: 0 success, 1 findings or input errors, 2
// usage, 3 alerts raised (with --fail-on-alert).
#pragma once

#include <cstdint>
#include <functional>
#include <istream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "correlate/stream.h"
#include "fleet/transport.h"
#include "rules/rule_loader.h"

namespace pickaxe::cli {

enum ExitCode { kSuccess = 0, kFindings = 1, kUsage = 2, kAlerts = 3 };

// Freeing a compiled rule set and its engines' state takes longer than
// exiting, and the process ends right after a command: the object is left
// for the system to reclaim (held by a global, so leak checkers still find
// it reachable).
template <typename T>
void leave_to_exit(std::unique_ptr<T> object) {
  static auto* kept = new std::vector<void*>();
  kept->push_back(object.release());
}

// Registers the subcommand; `run` is set to its action.
void add_lint_command(CLI::App& app, std::function<int()>& run);
void add_fmt_command(CLI::App& app, std::function<int()>& run);
void add_query_command(CLI::App& app, std::function<int()>& run);
void add_hunt_command(CLI::App& app, std::function<int()>& run);
void add_watch_command(CLI::App& app, std::function<int()>& run);
void add_validate_command(CLI::App& app, std::function<int()>& run);
void add_convert_command(CLI::App& app, std::function<int()>& run);
void add_ship_command(CLI::App& app, std::function<int()>& run);
void add_serve_command(CLI::App& app, std::function<int()>& run);
void add_alerts_command(CLI::App& app, std::function<int()>& run);
void add_rules_command(CLI::App& app, std::function<int()>& run);
void add_completion_command(CLI::App& app, std::function<int()>& run);
void add_man_command(CLI::App& app, std::function<int()>& run);
void add_scan_command(CLI::App& app, std::function<int()>& run);
// The options that reach the fleet's NATS servers: --nats, --nats-creds, --nats-ca.
void add_nats_options(CLI::App* command, fleet::ConnectOptions& connect);
// The fleet's layout options of ship and serve: --partitions,
// --partition-key (`given` is set when either is), --replicas.
void add_layout_options(CLI::App* command, uint32_t& partitions,
                        std::vector<std::string>& partition_key, int& replicas, bool& given);

// Reads each file (or stdin for "-"; stdin alone when there are none; a
// folder's files in path order, without dot names) with `read`, until `done`
// says the rest cannot matter. Reports unreadable files
// on stderr; returns false when there was one.
// `read_file`, when given, may take a plain file by its path first (and
// returns false when it does not). stdin is read as it comes, with
// `before_wait` run before each read that may wait (to flush results).
// A stop signal ends the inputs; a file that shrinks while read is reported.
bool read_inputs(const std::vector<std::string>& files,
                 const std::function<void(std::istream&, const std::string&)>& read,
                 const std::function<bool()>& done,
                 const std::function<bool(const std::string&)>& read_file = nullptr,
                 const std::function<void()>& before_wait = nullptr);

// A folder shipped with pickaxe (rules, emulations, variations): installed
// in ../share/pickaxe/NAME beside the binary, or ../NAME or NAME, else
// `fallback` in the source tree.
std::string bundled_dir(const std::string& name, const std::string& fallback);
// The bundled T1204.003 rule pack.
std::string bundled_pack_dir();
// The pack's rules over runtime telemetry: all but its scan/ folder, whose
// rules read pickaxe scan's events (hunt, watch and serve without --rules).
std::vector<std::string> runtime_pack_paths();
// Loads rules and prints their errors; nullopt (after a closing line naming
// `command`) when any rule or file has an error.
// With `skip_invalid`, rules with errors are left out instead (with a count).
// Sigma rules skipped for want of a logsource mapping are counted on one line.
// Files are read on `threads` threads.
std::optional<LoadResult> load_rules_or_report(const std::vector<std::string>& paths,
                                               std::string_view command, bool skip_invalid = false,
                                               const sigma::Mapping* sigma_mapping = nullptr,
                                               size_t threads = 1);
// The mappings --mapping names, loaded into `schema`; false (with the
// problems printed, each naming its file) when one cannot be used.
bool load_mappings(const std::vector<std::string>& paths, Schema& schema);
// The --sigma-mapping option, shared by the commands that read rules.
void add_sigma_mapping_option(CLI::App& command, std::string& path);
// The Sigma mapping for that option: null (the built-in one) when `path` is
// empty; nullopt, with the problems printed, when the file is bad.
std::optional<const sigma::Mapping*> load_sigma_mapping(const std::string& path);
// What the source decoders noticed without skipping anything; "" when nothing.
std::string describe_source_notes(const StreamStats& stats);
// What went wrong with sample keys on disk (`stats`' sample_* figures), one
// line, or "".
std::string describe_sample_disk(const EngineStats& stats);

// Inputs that yielded no event at all (empty, or in no format pickaxe
// reads), each said on stderr unless `allow_empty`; true when that makes the
// run fail (exit 1).
bool report_empty_inputs(const std::vector<std::string>& names, bool allow_empty);

// "pickaxe: file:line: message\n" (no line when it is 0: the whole file).
std::string describe_problem(const InputProblem& problem);

// The options query and hunt share: how input is read, put in order and
// bounded, and how much is said about it.
struct StreamFlags {
  std::vector<std::string> mappings;
  std::string source = "auto";
  std::string max_lateness = "5m";
  size_t max_sequence_state = 1'000'000;
  size_t max_buffer_bytes = size_t{256} << 20;
  size_t max_line_bytes = 4 * 1024 * 1024;
  bool no_prefilter = false;
  bool strict = false;
  bool quiet = false;
  bool allow_empty = false;  // a file that yields no event is no problem
};
// Registers them; `quiet_help` says what --quiet leaves out.
void add_stream_flags(CLI::App& command, StreamFlags& flags, const std::string& quiet_help);
// The stream's options from the flags; nullopt, reported, for a bad
// --max-lateness.
std::optional<StreamOptions> stream_options_of(const StreamFlags& flags);

// "5m", "30s", "0", "unbounded" -> nanoseconds; nullopt when it is no duration.
std::optional<int64_t> parse_duration(const std::string& text);

bool stdout_is_terminal();

// A rule's ATT&CK technique ids: its threat entries' (sub)techniques, else
// its Sigma tags' (attack.t1204.003 -> T1204.003).
std::vector<std::string> technique_ids(const Rule& rule);

}  // namespace pickaxe::cli
